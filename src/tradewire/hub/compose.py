"""The hub's composition root: every part made once, here, with what it needs handed in.

Nothing rewires another part later: a part that must hear of something subscribes to the hub's
event stream (hub/events.py) below, and the bus gets its plumbing when it is made. Reading
:func:`assemble` top to bottom answers where a state goes and where a new service goes.

**The route of a provider's state** (each step is a line below):

1. The provider's ``state`` frame reaches its :class:`~tradewire.hub.connection.Connection`,
   whose dispatcher hands it to :meth:`ChannelService.publish` (access; one publisher per
   channel).
2. The bus numbers it (``LocalBus``; with ``[nats]`` JetStream numbers it for every hub) and the
   channel service stamps it with that number and its arrival.
3. ``persist``: the state store keeps the channel's latest, group-committed. Nobody sees a
   state before it is durable.
4. The bus fans it out: :meth:`FanOutStamps.outgoing` adds the fan-out moment and encodes the
   line once, and :meth:`ParallelFanOut.deliver` hands that line to every subscriber's
   connection, on several threads.
5. The publisher gets its ``ack``, and :class:`StateStored` goes to the event stream: the
   sentiment service counts the provider's positions (``sentiment.from_states``).

**A new service** is a class with ``handlers()`` (hub/service.py): make it in
:func:`assemble` with the parts it needs, subscribe it to the events it needs, and add it to the
dispatcher's list. A feature outside tradewire passes a ``ServiceFactory`` to ``Hub(services=)``
instead and gets a :class:`ServiceContext`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradewire.bus.base import Bus, Message, Plumbing, SubjectSeen
from tradewire.bus.local import LocalBus
from tradewire.clock import Clock
from tradewire.config import Config
from tradewire.hub.article.listeners import ArticleListeners
from tradewire.hub.audit import Auditor
from tradewire.hub.auth import Authenticator
from tradewire.hub.connection import Connection
from tradewire.hub.context import ServiceContext, ServiceFactory
from tradewire.hub.events import (
    HubEvents,
    RelayCarriedIn,
    RelayTakenElsewhere,
    StateStored,
    TicksStored,
)
from tradewire.hub.fanout import ParallelFanOut
from tradewire.hub.listener_gate import ListenerGates
from tradewire.hub.service import Dispatcher
from tradewire.hub.services.budgets.service import BudgetService, Holdings
from tradewire.hub.services.channels.registry import ChannelRegistry
from tradewire.hub.services.channels.service import ChannelService, FanOutStamps
from tradewire.hub.services.files.service import FileService
from tradewire.hub.services.history.service import HistoryService
from tradewire.hub.services.history.simulations import Simulations
from tradewire.hub.services.jobs.backend import JobBackend
from tradewire.hub.services.jobs.local import LocalJobs
from tradewire.hub.services.jobs.service import JobService
from tradewire.hub.services.relay.service import RelayService
from tradewire.hub.services.reports.service import ReportService
from tradewire.hub.services.sentiment.service import SentimentService
from tradewire.hub.services.sessions.service import SessionService
from tradewire.hub.services.ticks.service import TickService
from tradewire.hub.services.topics.indicators import IndicatorPublisher
from tradewire.hub.services.topics.service import TopicService
from tradewire.metrics import Metrics
from tradewire.store.history import HistoryStore
from tradewire.store.jobs import JobStore
from tradewire.store.state import StateStore
from tradewire.store.ticks import TickStore

if TYPE_CHECKING:
    from tradewire.hub.sharing.link import NatsLink

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


@dataclass(frozen=True)
class Ground:
    """What the hub has before its parts are made: settings, storage, the login check, the
    connection table it keeps, and its task owner."""

    config: Config
    data_dir: Path
    clock: Clock
    metrics: Metrics
    events: HubEvents
    store: StateStore
    auth: Authenticator
    connections: Collection[Connection]  # the hub's live set
    spawn: Spawn
    stopping: Callable[[], bool]
    open_tick_store: Callable[[], TickStore]


@dataclass(frozen=True)
class HubParts:
    """Every part of a hub, made by :func:`assemble`. The dashboard and the upkeep read the
    parts they need of it through their own protocols (DashboardHost, UpkeepHost)."""

    config: Config
    clock: Clock
    metrics: Metrics
    events: HubEvents
    store: StateStore
    auth: Authenticator
    connections: Collection[Connection]
    open_tick_store: Callable[[], TickStore]
    auditor: Auditor
    gates: ListenerGates
    bus: Bus
    nats: NatsLink | None
    fanout: ParallelFanOut
    channels: ChannelRegistry
    channel_service: ChannelService
    ticks: TickService
    files: FileService
    topics: TopicService
    sessions: SessionService
    relay: RelayService
    sentiment: SentimentService
    indicators: IndicatorPublisher
    reports: ReportService
    job_store: JobStore
    jobs: JobService
    history_store: HistoryStore
    history: HistoryService
    budgets: BudgetService
    legacy: ArticleListeners
    dispatcher: Dispatcher


def listener_counts(ticks: TickService) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for c in ticks.listeners:
        out[(c.name, "received")] = c.received
        out[(c.name, "malformed")] = c.malformed
        out[(c.name, "kernel_dropped")] = c.kernel_drops
    return out


def assemble(
    ground: Ground, loop: asyncio.AbstractEventLoop, extra: Sequence[ServiceFactory] = ()
) -> HubParts:
    """Make every part of the hub; nothing listens yet (``Hub.start`` does that next)."""
    config, clock, metrics, events, store = (
        ground.config,
        ground.clock,
        ground.metrics,
        ground.events,
        ground.store,
    )
    auditor = Auditor(store)
    # caps and idle timeouts of the web side and the article ports, from [limits]
    gates = ListenerGates(
        config.limits,
        lambda address, why: auditor.audit("refused", None, address, why),
        metrics.counter(
            "tradewire_listener_closed_total",
            "connections the web side and article ports closed: over a cap, or idle",
            ("listener", "why"),
        ),
    )
    metrics.gauge(
        "tradewire_listener_connections",
        "open connections of the web side and each article port",
        gates.open_counts,
        ("listener",),
    )

    # ---- the route of a state (steps 2 to 5 above) ---------------------------------------------
    def persist(message: Message, stored: Callable[[object], None]) -> None:  # step 3
        store.put_state(message.subject, message.seq, message.value.ts, message.line, stored)

    fanout = ParallelFanOut(config.hub.fanout_thread_count)
    stamps = FanOutStamps(clock)
    plumbing = Plumbing(outgoing=stamps.outgoing, deliver_many=fanout.deliver, told=events.emit)
    nats: NatsLink | None = None
    bus: Bus
    if config.nats.enabled:  # docs/scaling.md
        from tradewire.hub.sharing.link import NatsLink  # only here: nats-py is the [scale] extra

        nats = NatsLink(ground, plumbing)
        bus = nats.bus
    else:
        bus = LocalBus(persist, plumbing)
    channels = ChannelRegistry()
    limit = config.hub.max_subscriptions
    channel_service = ChannelService(
        bus, stamps, channels, clock, auditor, limit, metrics, events
    )  # steps 1, 2 and 5
    sentiment = SentimentService(config.sentiment, clock, auditor, metrics, events)
    events.subscribe(StateStored, lambda s: sentiment.observe_state(s.session, s.update))

    # ---- ticks: stored, then to live subscribers, the indicators and the dashboard -------------
    ticks = TickService(
        ground.open_tick_store,
        clock,
        auditor,
        limit,
        lambda session: len(channel_service.subscribed(session)),
        events,
    )
    ticks.start(loop)
    metrics.gauge(
        "tradewire_tick_rows_stored_total",
        "tick rows stored durably",
        lambda: {(): float(ticks.writer.stored_rows if ticks.writer else 0)},
    )
    metrics.gauge(
        "tradewire_listener_datagrams_total",
        "lines or datagrams received by the text tick listeners",
        lambda: listener_counts(ticks),
        ("listener", "outcome"),
    )
    topics = TopicService(config.topics, bus, clock, auditor, metrics, store)
    events.subscribe(SubjectSeen, lambda seen: topics.restore([seen.subject]))
    indicators = IndicatorPublisher(config.topics.indicators, topics)
    events.subscribe(TicksStored, lambda stored: indicators.on_ticks(stored.rows))

    # ---- the other services --------------------------------------------------------------------
    files = FileService(config, store, auditor, ground.spawn)
    sessions = SessionService(
        ground.connections,
        channel_service,
        auditor,
        metrics,
        time.monotonic(),
        topics=topics,
        events=events,
    )
    relay = RelayService(
        config.relay, clock, auditor, metrics, events, nats.relay.forward if nats else None
    )
    events.subscribe(RelayTakenElsewhere, lambda taken: relay.take_name_away(taken.name))
    events.subscribe(RelayCarriedIn, relay.carried_in)
    reports = ReportService(auditor)
    job_store = JobStore(ground.data_dir, loop)  # with [nats] the queue is in JetStream
    job_store.start()
    backend: JobBackend = (
        nats.job_backend() if nats is not None else LocalJobs(job_store, clock, metrics)
    )
    jobs = JobService(config.jobs, backend, clock, auditor, metrics, ground.spawn)
    history_store = HistoryStore(ground.data_dir, loop, config.ticks.postgres)
    history_store.start()
    simulations = Simulations(config.history, ground.data_dir, config.ticks.postgres)
    history = HistoryService(
        config.history, history_store, clock, auditor, ground.spawn, simulations
    )
    events.subscribe(StateStored, history.record)  # each channel's moments, for its statistics
    holdings = Holdings(store, topics, jobs, sentiment)
    budgets = BudgetService(config, holdings, auditor, ground.spawn)
    context = ServiceContext(config, clock, store, auditor, metrics, ground.spawn, events)
    added = [make(context) for make in extra]
    if nats is not None:  # each service linked to the other hubs
        added += nats.share(sessions, auditor, sentiment, ticks)
    legacy = ArticleListeners(
        config.listeners, ticks, bus, files, sentiment, ground.spawn, gates, events
    )
    dispatcher = Dispatcher(
        [
            channel_service,
            ticks,
            files,
            sessions,
            relay,
            sentiment,
            topics,
            jobs,
            reports,
            budgets,
            history,
            *added,
        ]
    )
    return HubParts(
        config=config,
        clock=clock,
        metrics=metrics,
        events=events,
        store=store,
        auth=ground.auth,
        connections=ground.connections,
        open_tick_store=ground.open_tick_store,
        auditor=auditor,
        gates=gates,
        bus=bus,
        nats=nats,
        fanout=fanout,
        channels=channels,
        channel_service=channel_service,
        ticks=ticks,
        files=files,
        topics=topics,
        sessions=sessions,
        relay=relay,
        sentiment=sentiment,
        indicators=indicators,
        reports=reports,
        job_store=job_store,
        jobs=jobs,
        history_store=history_store,
        history=history,
        budgets=budgets,
        legacy=legacy,
        dispatcher=dispatcher,
    )
