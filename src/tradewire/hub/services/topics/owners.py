"""Who created each topic, and the quota of topics per user (issue 26, finding 10).

One provider once made 9,997 topics of 16 KB in 12 s (+352 MB), after which even an admin was
refused new topics, and nothing could delete one. Now a user holds at most
``topics.max_topics_per_user`` topics they created (admins are exempt; the hub's own, the
indicators, belong to nobody), a ``topic_del`` frame deletes one (its creator or an admin; a
topic whose creator is unknown, one from an earlier release or another hub, anyone who may
publish it), and a topic without a new value for ``topics.expire_days`` is deleted.

Claims are made when the value is accepted, before it is stored: concurrent publications of
new topics by one user's many connections count against one figure.
"""

from __future__ import annotations

from collections import Counter

from tradewire.hub.acl import may, owns
from tradewire.model import UserRecord


class TopicOwners:
    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self.owner: dict[str, str] = {}
        self.held: Counter[str] = Counter()

    def load(self, owners: dict[str, str]) -> None:
        for topic, owner in owners.items():
            self.claim(topic, owner)

    def refusal(self, user: UserRecord, topic: str) -> str | None:
        """Why ``user`` may not create ``topic`` now, or None."""
        if topic in self.owner or may(user, "admin"):
            return None
        if self.held[user.name] >= self.per_user:
            return (
                f"you hold {self.held[user.name]} topics, the most one user may "
                f"(topics.max_topics_per_user); delete one with topic_del"
            )
        return None

    def claim(self, topic: str, user: str) -> bool:
        """Record ``user`` as the creator of ``topic``; False when it already has one."""
        if topic in self.owner:
            return False
        self.owner[topic] = user
        self.held[user] += 1
        return True

    def may_delete(self, user: UserRecord, topic: str) -> bool:
        owner = self.owner.get(topic)
        if owns(user, owner):
            return True
        return owner is None and may(user, "publish_topic", topic)

    def release(self, topic: str) -> None:
        owner = self.owner.pop(topic, None)
        if owner is not None:
            self.held[owner] -= 1
            if self.held[owner] <= 0:
                del self.held[owner]
