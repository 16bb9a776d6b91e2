"""Pure copy logic: ``plan(provider_state, follower, rules) -> Plan`` and
``reconcile(target, actual) -> orders``. No clock, no I/O (DESIGN.md)."""

from tradewire.copy.plan import FollowerView, Plan, ProviderState, Skip, TargetPosition, plan
from tradewire.copy.reconcile import CopyOrder, reconcile
from tradewire.copy.rules import CopyRules

__all__ = [
    "CopyOrder",
    "CopyRules",
    "FollowerView",
    "Plan",
    "ProviderState",
    "Skip",
    "TargetPosition",
    "plan",
    "reconcile",
]
