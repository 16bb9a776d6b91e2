"""Live ticks shared by every hub on NATS (docs/scaling.md): the rows one hub has stored are
told to the others (a bus event), which hand them to their own live subscribers. Storage is not
repeated (each tick is stored once, by the hub that received it, in the shared PostgreSQL or
its own ticks.db) and the hub's indicators read only the ticks stored where they run."""

from __future__ import annotations

import msgspec

from tradewire.bus.base import Bus
from tradewire.hub.events import HubEvents, TicksStored
from tradewire.hub.services.ticks.service import TickService
from tradewire.hub.sharing.follow import read_event
from tradewire.protocol.ticks import TickRow

EVENT = "ticks"
_rows = msgspec.json.Decoder(list[TickRow])


def share_live_ticks(bus: Bus, ticks: TickService, events: HubEvents) -> None:
    def stored_here(stored: TicksStored) -> None:
        bus.broadcast(EVENT, msgspec.json.encode(stored.rows))

    def stored_elsewhere(payload: bytes) -> None:
        rows = read_event(_rows, payload, "live ticks")
        if rows is not None:
            ticks.fan_out(rows)

    events.subscribe(TicksStored, stored_here)
    bus.on_event(EVENT, stored_elsewhere)
