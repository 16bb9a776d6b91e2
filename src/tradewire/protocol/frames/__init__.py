"""Every service's frames, one module each; ``BUILTIN`` lists their sets (a new service with
frames adds its module here and one line to ``BUILTIN``)."""

from __future__ import annotations

from tradewire.protocol.frames import (
    budgets,
    channels,
    core,
    files,
    history,
    jobs,
    relay,
    reports,
    sentiment,
    sessions,
    ticks,
    topics,
)
from tradewire.protocol.frames.base import FrameSet

BUILTIN: tuple[FrameSet, ...] = (
    core.FRAMES,
    channels.FRAMES,
    ticks.FRAMES,
    files.FRAMES,
    sessions.FRAMES,
    reports.FRAMES,
    budgets.FRAMES,
    relay.FRAMES,
    sentiment.FRAMES,
    topics.FRAMES,
    jobs.FRAMES,
    history.FRAMES,
)
