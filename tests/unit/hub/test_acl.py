"""hub/acl.py, the one place that decides who may do what: the roles, grants and the
owner-or-admin rule, as a table."""

from __future__ import annotations

import pytest

from tradewire.hub.acl import may, owns
from tradewire.model import UserRecord


def user(name: str, role: str, *grants: str) -> UserRecord:
    return UserRecord(name, "", role, tuple(grants))


ALICE = user("alice", "provider", "alpha", "topic:levels.*")
BOB = user("bob", "follower", "alpha", "topic:levels.EURUSD")
ROOT = user("root", "admin")
W1 = user("w1", "worker")


@pytest.mark.parametrize(
    ("who", "action", "resource", "expected"),
    [
        (ALICE, "publish", "alpha", True),
        (ALICE, "publish", "beta", False),
        (BOB, "publish", "alpha", False),  # followers never publish
        (BOB, "subscribe", "alpha", True),
        (ALICE, "subscribe", "alpha", False),  # the grant is a provider's
        (ALICE, "publish_topic", "levels.GBPUSD", True),
        (BOB, "publish_topic", "levels.EURUSD", False),  # only providers publish topics
        (BOB, "subscribe_topic", "levels.EURUSD", True),
        (BOB, "subscribe_topic", "levels.*", False),  # wider than the grant
        (W1, "submit_job", None, False),
        (W1, "work", None, True),
        (BOB, "work", None, False),
        (ALICE, "admin", None, False),
        (ROOT, "admin", None, True),
        (ROOT, "publish", "anything", True),
    ],
)
def test_who_may_do_what(
    who: UserRecord, action: str, resource: str | None, expected: bool
) -> None:
    assert may(who, action, resource) is expected  # type: ignore[arg-type]


def test_the_owner_or_an_admin() -> None:
    assert owns(ALICE, "alice") and owns(ROOT, "alice")
    assert not owns(BOB, "alice")
    assert not owns(ALICE, None) and owns(ROOT, None)  # nobody's: only an admin
