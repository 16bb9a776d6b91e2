"""Who may do what: the one place every access decision is made (issue 12's rules).

* ``publish`` / ``subscribe`` a channel: providers publish to their granted channels, followers
  subscribe to theirs, admins do both everywhere;
* ``send_ticks``, ``store_file``: providers and admins;
* ``relay`` to an address (``term1``, ``term1/eurusd``): whoever holds the grant
  ``relay:term1``, and admins; listening under one's own name needs no grant;
* ``publish_topic`` a topic: providers holding a ``topic:`` grant that covers it (the name,
  or a prefix ending in ``*``), and admins; ``subscribe_topic`` a name or prefix*: any role
  holding such a grant;
* ``submit_job``: every role but ``worker``; ``work`` (lease and run tasks): workers and
  admins; a job's status, results and cancellation: its owner and admins;
* ``store_served_file`` (the file an unauthenticated listener hands out) and ``admin``
  (list or kick sessions): admins only.

Grants are read at login and replaced when an admin changes them (revocation).
"""

from __future__ import annotations

from typing import Literal

from tradewire.model import UserRecord
from tradewire.protocol.names import RELAY_GRANT, TOPIC_GRANT, pattern_covers, relay_owner

Action = Literal[
    "publish",
    "subscribe",
    "send_ticks",
    "store_file",
    "store_served_file",
    "admin",
    "relay",
    "publish_topic",
    "subscribe_topic",
    "submit_job",
    "work",
]


def may(user: UserRecord, action: Action, resource: str | None = None) -> bool:
    if user.role == "admin":
        return True
    if action == "publish":
        return user.role == "provider" and resource in user.channels
    if action == "subscribe":
        return user.role == "follower" and resource in user.channels
    if action == "relay":
        owner = relay_owner(resource or "")
        return owner is not None and f"{RELAY_GRANT}{owner}" in user.channels
    if action == "submit_job":
        return user.role != "worker"
    if action == "work":
        return user.role == "worker"
    if action in ("publish_topic", "subscribe_topic"):
        if action == "publish_topic" and user.role != "provider":
            return False
        return any(
            pattern_covers(grant[len(TOPIC_GRANT) :], resource or "")
            for grant in user.channels
            if grant.startswith(TOPIC_GRANT)
        )
    if action in ("send_ticks", "store_file"):
        return user.role == "provider"
    return False


def owns(user: UserRecord, owner: str | None) -> bool:
    """The owner-or-admin rule: ``user`` may act on what ``owner`` made (a job, a topic)."""
    return user.role == "admin" or (owner is not None and owner == user.name)
