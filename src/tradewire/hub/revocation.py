"""Access that can be taken back at once: user changes reach live sessions, and admins list and
kick sessions over the wire (``sessions`` / ``kick`` frames).

The admin CLI writes users and grants to the database; every change bumps a revision that the
hub polls each sweep (about once a second) and answers here:

* user deleted or disabled, password or role changed: every session of the user ends with
  ``{"t":"bye","reason":"revoked"}``;
* a channel grant withdrawn: the subscription ends with ``{"t":"error","code":"revoked","ch":…}``
  and a publisher loses the channel; the session goes on with its other grants.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tradewire.hub.acl import may_publish, may_subscribe
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.messages import Ack, Bye, Kick, SessionInfo, SessionList, Sessions
from tradewire.store.db import UserRecord

if TYPE_CHECKING:
    from tradewire.hub.connection import Connection
    from tradewire.hub.server import Hub

log = logging.getLogger(__name__)


def apply_user_changes(hub: Hub, users: dict[str, UserRecord | None]) -> None:
    """``users``: the current record of every user with a live session (``None``: gone)."""
    for conn in list(hub.connections):
        old = conn.user
        if old is None or old.name not in users:
            continue
        new = users[old.name]
        if new is None or new.disabled or new.role != old.role or new.hash != old.hash:
            why = (
                "deleted"
                if new is None
                else "disabled"
                if new.disabled
                else "role changed"
                if new.role != old.role
                else "password changed"
            )
            log.info("closing session %s of %s: user %s", conn.session_id, old.name, why)
            conn.close(encode(Bye(reason="revoked")))
            conn.end_reason = f"revoked: user {why}"
        elif new.channels != old.channels:
            conn.user = new
            _drop_withdrawn(hub, conn, new)


def _drop_withdrawn(hub: Hub, conn: Connection, user: UserRecord) -> None:
    for name in sorted(conn.subscriptions):
        if not may_subscribe(user, name):
            hub.unsubscribe_channel(conn, name)
            conn.send(error_line("revoked", f"your grant to {name!r} was withdrawn", ch=name))
            log.info("unsubscribed %s from %s: grant withdrawn", user.name, name)
    for channel in hub.channels.published_by(conn):
        if not may_publish(user, channel.name):
            channel.release(conn)
            conn.send(
                error_line(
                    "revoked", f"your grant to {channel.name!r} was withdrawn", ch=channel.name
                )
            )


def list_sessions(hub: Hub, conn: Connection, frame: Sessions) -> None:
    if not _is_admin(hub, conn, frame.id):
        return
    infos = []
    for other in hub.connections:
        if other.user is None:
            continue
        infos.append(
            SessionInfo(
                session=other.session_id,
                user=other.user.name,
                role=other.user.role,
                address=other.address,
                since_ms=other.since_ms,
                agent=other.agent,
                subscribed=sorted(other.subscriptions),
                publishing=sorted(c.name for c in hub.channels.published_by(other)),
            )
        )
    infos.sort(key=lambda i: (i.user, i.since_ms))
    conn.send(encode(SessionList(sessions=infos, re=frame.id)))


def kick(hub: Hub, conn: Connection, frame: Kick) -> None:
    if not _is_admin(hub, conn, frame.id):
        return
    assert conn.user is not None
    if (frame.session is None) == (frame.user is None):
        conn.send(error_line("bad_frame", 'kick: give "session" or "user"', frame.id))
        return
    targets = [
        c
        for c in hub.connections
        if c.user is not None
        and c is not conn
        and (c.session_id == frame.session or c.user.name == frame.user)
    ]
    for target in targets:
        target.close(encode(Bye(reason="kicked")))
        target.end_reason = f"kicked by {conn.user.name}"
    what = f"session={frame.session}" if frame.session else f"user={frame.user}"
    hub.audit("kick", conn.user.name, conn.address, f"{what} closed={len(targets)}")
    conn.send(encode(Ack(re=frame.id, n=len(targets))))


def _is_admin(hub: Hub, conn: Connection, re: int | str | None) -> bool:
    assert conn.user is not None
    if conn.user.role == "admin":
        return True
    hub.forbidden(conn, "only admins may list or kick sessions", re)
    return False
