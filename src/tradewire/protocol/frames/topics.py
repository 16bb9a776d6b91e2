"""Topics: values published under a name, the last one kept."""

from __future__ import annotations

import msgspec

from tradewire.protocol.frames.base import Frame, FrameSet, RequestId


class TopicPub(Frame, frozen=True, tag="topic_pub"):
    """Publish ``value`` (any JSON) on ``topic``; acked with the topic's ``seq`` once stored
    (the last value of every topic is kept and given to each new subscriber)."""

    topic: str
    value: msgspec.Raw
    id: RequestId = None


class TopicDel(Frame, frozen=True, tag="topic_del"):
    """Delete ``topic`` and its kept value (its creator or an admin; protocol 1.3)."""

    topic: str
    id: RequestId = None


class TopicUpdate(Frame, frozen=True, tag="topic"):
    """A topic's value as the hub sends it: numbered per topic (``seq``), stamped (``ts``)."""

    topic: str
    seq: int
    ts: int
    value: msgspec.Raw


FRAMES = FrameSet(
    "topics",
    client=(TopicPub, TopicDel),
    server=(TopicUpdate,),
)
