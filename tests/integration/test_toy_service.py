"""The service registry, proven by a feature that lives entirely in this file: a ``time`` frame
the hub answers with its clock. Nothing outside this module changes to add it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

from tests.conftest import Raw, make_config
from tradewire.hub.context import ServiceContext
from tradewire.hub.server import Hub
from tradewire.hub.service import Handler, Session
from tradewire.protocol.codec import encode
from tradewire.protocol.frames.base import FrameSet
from tradewire.protocol.messages import RequestId


class TimeRequest(msgspec.Struct, frozen=True, tag_field="t", tag="time"):
    id: RequestId = None


class TimeReply(msgspec.Struct, frozen=True, tag_field="t", tag="time_is"):
    ms: int
    re: RequestId = None


class TimeService:
    frames = FrameSet("time", client=(TimeRequest,), server=(TimeReply,))

    def __init__(self, context: ServiceContext) -> None:
        self._clock = context.clock
        self._asked = context.metrics.counter("toy_time_requests_total", "time frames answered")

    def handlers(self) -> Mapping[str, Handler]:
        return {"time": self.answer}

    def session_ended(self, session: Session) -> None:
        pass

    def answer(self, session: Session, frame: TimeRequest) -> None:
        self._asked.inc()
        session.send(encode(TimeReply(ms=int(self._clock.time() * 1000), re=frame.id)))


async def test_a_service_in_one_file_answers_its_own_frame(data_dir: Path) -> None:
    hub = Hub(make_config(), data_dir, services=[TimeService])
    await hub.start()
    try:
        raw = await Raw.connect(hub)
        assert (await raw.login("bob"))["t"] == "welcome"
        raw.send({"t": "time", "id": 5})
        reply = await raw.recv()
        assert reply["t"] == "time_is" and reply["re"] == 5 and reply["ms"] > 1_700_000_000_000
        raw.send({"t": "clock", "id": 6})  # still unknown: refused as before
        assert (await raw.recv())["msg"] == "unknown frame type 'clock'"
        assert hub.snapshot()["toy_time_requests_total"] == {(): 1.0}
        assert hub.snapshot()["tradewire_frames_total"][("time",)] == 1
    finally:
        await hub.stop()
