"""What a hub hands a service it builds: the pieces, never the hub itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tradewire.clock import Clock
from tradewire.config import Config
from tradewire.hub.audit import Auditor
from tradewire.hub.service import Service
from tradewire.metrics import Metrics
from tradewire.store.db import StateDB
from tradewire.store.writer import BatchWriter


@dataclass(frozen=True)
class ServiceContext:
    config: Config
    clock: Clock
    store: StateDB
    writer: BatchWriter  # group commit: store operations off the event loop
    auditor: Auditor
    metrics: Metrics


ServiceFactory = Callable[[ServiceContext], Service]
