"""What a hub hands a service it builds: the pieces, never the hub itself."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from tradewire.clock import Clock
from tradewire.config import Config
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents
from tradewire.hub.service import Service
from tradewire.metrics import Metrics
from tradewire.store.state import StateStore


@dataclass(frozen=True)
class ServiceContext:
    config: Config
    clock: Clock
    store: StateStore  # writes group-committed, reads off the loop
    auditor: Auditor
    metrics: Metrics
    spawn: Callable[[Coroutine[Any, Any, None]], object]  # run a task the hub owns
    events: HubEvents  # what happens in the hub (hub/events.py): subscribe, or tell


ServiceFactory = Callable[[ServiceContext], Service]
