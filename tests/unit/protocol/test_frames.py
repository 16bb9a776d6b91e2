"""Services own their frames (issue 29): each service's module in protocol/frames/ declares its
set, the codec is built from the sets it is given, and the dispatcher refuses a service that
handles a frame it does not declare."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import pytest

from tradewire.exceptions import FrameError
from tradewire.hub.service import Dispatcher, Handler, Session
from tradewire.protocol.codec import BUILTIN_CODEC, Codec
from tradewire.protocol.frames import BUILTIN, core, jobs, topics
from tradewire.protocol.frames.base import FrameSet
from tradewire.protocol.messages import ClientFrame, ServerFrame


def test_the_typed_unions_are_the_builtin_sets() -> None:
    client = {frame for frames in BUILTIN for frame in frames.client}
    server = {frame for frames in BUILTIN for frame in frames.server}
    assert client == set(ClientFrame.__args__)
    assert server == set(ServerFrame.__args__)
    assert BUILTIN_CODEC.client_tags == {f.__struct_config__.tag for f in client}


def test_a_codec_decodes_only_the_frames_of_its_sets() -> None:
    without_jobs = Codec([core.FRAMES, topics.FRAMES])
    line = b'{"t":"job_status","job":"0123456789abcdef","id":7}'
    assert BUILTIN_CODEC.decode_client(line).job == "0123456789abcdef"
    with pytest.raises(FrameError) as refused:
        without_jobs.decode_client(line)
    assert (refused.value.code, refused.value.re) == ("bad_frame", 7)
    assert "unknown frame type 'job_status'" in str(refused.value)
    assert without_jobs.decode_client(b'{"t":"topic_del","topic":"a.b"}').topic == "a.b"


def test_a_sets_rules_apply_in_any_codec() -> None:
    lone = Codec([core.FRAMES])
    with pytest.raises(FrameError) as refused:
        lone.decode_client(b'{"t":"sub","id":1}')  # names no stream: core's own rule
    assert refused.value.code == "bad_frame" and "give one of" in str(refused.value)


class Twin(msgspec.Struct, frozen=True, tag_field="t", tag="job_status"):
    id: Any = None


def test_two_sets_with_one_tag_are_refused() -> None:
    with pytest.raises(ValueError, match="job_status"):
        Codec([core.FRAMES, jobs.FRAMES, FrameSet("twin", client=(Twin,))])


class Stray:
    frames = topics.FRAMES

    def handlers(self) -> Mapping[str, Handler]:
        return {"job_status": self.handle}

    def handle(self, session: Session, frame: Any) -> None:
        pass

    def session_ended(self, session: Session) -> None:
        pass


def test_a_service_may_handle_only_frames_it_declares() -> None:
    with pytest.raises(ValueError, match="topics handles 'job_status'"):
        Dispatcher([Stray()])
