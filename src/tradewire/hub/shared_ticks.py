"""Live ticks shared by every hub on NATS (docs/scaling.md): the rows one hub has stored are
told to the others (a bus event), which hand them to their own live subscribers. Storage is not
repeated (each tick is stored once, by the hub that received it, in the shared PostgreSQL or
its own ticks.db) and the hub's indicators read only the ticks stored where they run."""

from __future__ import annotations

import logging

import msgspec

from tradewire.bus.base import Bus
from tradewire.hub.ticks import TickService
from tradewire.protocol.ticks import TickRow

log = logging.getLogger(__name__)

EVENT = "ticks"
_rows = msgspec.json.Decoder(list[TickRow])


def share_live_ticks(bus: Bus, ticks: TickService) -> None:
    def stored_here(rows: list[TickRow]) -> None:
        bus.broadcast(EVENT, msgspec.json.encode(rows))

    def stored_elsewhere(payload: bytes) -> None:
        try:
            rows: list[TickRow] = _rows.decode(payload)
        except msgspec.DecodeError as exc:  # another hub's bug must not stop this one
            log.warning("live ticks from another hub dropped: %s", exc)
            return
        ticks.fan_out(rows)

    ticks.observers.append(stored_here)
    bus.on_event(EVENT, stored_elsewhere)
