"""A hub among others: its NATS bus and everything it shares through it (docs/scaling.md).

:class:`NatsLink` makes the :class:`~tradewire.bus.nats.NatsBus` (how another hub's messages
are read back: :func:`decode_bus_line`), watches the link (cut off for ``nats.lost_after_s``:
every client is sent away with ``bye`` ``bus_unavailable``, and newcomers too until NATS is
back) and, once the hub's services exist, links each of them to the other hubs through the
``shared_*`` modules. Nothing here runs without ``[nats]``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tradewire.bus.base import LinkBack, LinkLost, Plumbing
from tradewire.bus.nats import NatsBus
from tradewire.hub.service import Service
from tradewire.hub.services.jobs.shared import PREFIX as JOB_PREFIX
from tradewire.hub.services.jobs.shared import JetStreamJobs, decode_record
from tradewire.hub.services.relay.shared import PREFIX as RELAY_PREFIX
from tradewire.hub.services.relay.shared import SharedRelay, decode_owner
from tradewire.hub.services.sentiment.shared import share_sentiment
from tradewire.hub.services.sessions.shared import share_kicks
from tradewire.hub.services.ticks.shared import share_live_ticks
from tradewire.hub.sharing.bans import PREFIX as BAN_PREFIX
from tradewire.hub.sharing.bans import SharedBans, decode_ban
from tradewire.hub.sharing.users import PREFIX as USER_PREFIX
from tradewire.hub.sharing.users import SharedUsers, decode_user
from tradewire.protocol.codec import decode_server_frame, encode
from tradewire.protocol.messages import Bye

if TYPE_CHECKING:
    from tradewire.hub.audit import Auditor
    from tradewire.hub.compose import Ground
    from tradewire.hub.services.sentiment.service import SentimentService
    from tradewire.hub.services.sessions.service import SessionService
    from tradewire.hub.services.ticks.service import TickService

log = logging.getLogger(__name__)

_DECODERS: dict[str, Callable[[bytes], Any]] = {
    BAN_PREFIX: decode_ban,
    RELAY_PREFIX: decode_owner,
    JOB_PREFIX: decode_record,
}


def decode_bus_line(subject: str, line: bytes) -> Any:
    """A bus message another hub published: a ban, a relay name's hub, a user, or a frame (a
    channel state, a topic value)."""
    prefix = subject[: subject.find(":") + 1]
    if prefix == USER_PREFIX:
        return decode_user(subject, line)
    return _DECODERS.get(prefix, decode_server_frame)(line)


class NatsLink:
    def __init__(self, ground: Ground, plumbing: Plumbing) -> None:
        """``ground``: what the hub has before its services exist (hub/compose.py);
        ``plumbing``: the bus's fan-out and the hub's event stream."""
        self._ground = ground
        settings = ground.config.nats
        self.bus = NatsBus(
            settings.servers,
            decode_bus_line,
            name=f"hub-{uuid.uuid4().hex[:12]}",
            replicas=settings.replicas,
            publish_timeout_s=settings.publish_timeout_s,
            tls=ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else None,
            plumbing=plumbing,
        )
        self.cut_off = False  # cut off for longer than nats.lost_after_s
        ground.events.subscribe(LinkLost, self._lost)
        ground.events.subscribe(LinkBack, self._back)
        ground.metrics.gauge(
            "tradewire_nats_connected",
            "1 while the hub reaches NATS, 0 while it is cut off (docs/scaling.md)",
            lambda: {(): 1.0 if self.bus.connected else 0.0},
        )
        # Before the bus reads what it holds: bans and users already there reach this hub.
        self.bans = SharedBans(self.bus, ground.auth, ground.store, ground.events)
        self.users = SharedUsers(self.bus, ground.store, ground.events)
        # Before the relay: it is handed the link's forward (hub/compose.py).
        self.relay = SharedRelay(self.bus, ground.config.relay, ground.events)

    def share(
        self,
        sessions: SessionService,
        auditor: Auditor,
        sentiment: SentimentService,
        ticks: TickService,
    ) -> list[Service]:
        """Link the hub's services to the other hubs (once they exist); returns the services
        to add to the dispatcher."""
        ground = self._ground
        share_kicks(self.bus, sessions, auditor, ground.events)
        share_sentiment(self.bus, sentiment, ground.clock, ground.events)
        share_live_ticks(self.bus, ticks, ground.events)
        return [self.relay]

    def job_backend(self) -> JetStreamJobs:
        """The jobs' queue in JetStream (every hub's workers serve it)."""
        g = self._ground
        return JetStreamJobs(
            self.bus, g.clock, g.metrics, g.spawn, g.events, g.config.nats.replicas
        )

    def _lost(self, _: LinkLost) -> None:
        """Cut off from NATS: if it lasts, tell every client (they fail over) rather than let
        them follow channels that have silently stopped."""
        wait = self._ground.config.nats.lost_after_s
        log.warning("cut off from NATS; clients are told to go in %g s unless it returns", wait)
        asyncio.get_running_loop().call_later(wait, self._gone)

    def _back(self, _: LinkBack) -> None:
        if self.cut_off:
            log.warning("NATS is back: admitting clients again")
        self.cut_off = False

    def _gone(self) -> None:
        hub = self._ground
        if self.bus.connected or hub.stopping():
            return
        self.cut_off = True  # until NATS is back, newcomers are sent away too
        log.error("still cut off from NATS: saying bye to %d clients", len(hub.connections))
        bye = encode(Bye(reason="bus_unavailable"))
        for conn in list(hub.connections):
            conn.close(bye)
