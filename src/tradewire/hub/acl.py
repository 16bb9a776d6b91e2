"""Who may do what on a channel (issue: providers publish to their granted channels, followers
subscribe to theirs, admins do both everywhere). Grants are read at login."""

from __future__ import annotations

from tradewire.store.db import UserRecord


def may_publish(user: UserRecord, channel: str) -> bool:
    return user.role == "admin" or (user.role == "provider" and channel in user.channels)


def may_subscribe(user: UserRecord, channel: str) -> bool:
    return user.role == "admin" or (user.role == "follower" and channel in user.channels)
