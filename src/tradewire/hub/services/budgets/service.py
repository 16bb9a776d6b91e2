"""Every per-user budget in one table (SECURITY.md, "one resource budget per user, kept in one
place"): what one account may make the hub store or queue, the configuration key of each limit,
and what the user holds of it now. ``BUDGETS`` is that table; the ``budget`` frame (and
``tradewire budget``) reads it for a user, so an operator sees at once what an account holds
and how near each limit it is.

The services enforce their own budget where the thing is made, because that is where a
concurrent flood must be stopped (in the file's write transaction, when a topic's first value
is accepted, with reservations for tasks being stored); this table reads the same figures they
check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from tradewire.config import Config
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.jobs.service import JobService
from tradewire.hub.services.sentiment.service import SentimentService
from tradewire.hub.services.topics.service import TopicService
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import budgets as budgets_frames
from tradewire.protocol.messages import BudgetReply, BudgetRequest, BudgetRow
from tradewire.store.state import StateStore


@dataclass(frozen=True)
class Holdings:
    """Where a user's figures are read from."""

    store: StateStore
    topics: TopicService
    jobs: JobService
    sentiment: SentimentService


@dataclass(frozen=True)
class Budget:
    name: str
    key: str  # config key of the limit
    unit: str
    limit: Callable[[Config], int]
    used: Callable[[Holdings, str], Awaitable[int]]
    admins_exempt: bool = False


async def _files(h: Holdings, user: str) -> int:
    return await h.store.file_bytes(user)


async def _topics(h: Holdings, user: str) -> int:
    return h.topics.owners.held[user]


async def _task_bytes(h: Holdings, user: str) -> int:
    return h.jobs.held_by(user)[0]


async def _jobs(h: Holdings, user: str) -> int:
    return h.jobs.held_by(user)[1]


async def _symbols(h: Holdings, user: str) -> int:
    return len(h.sentiment.book.symbols_of(user))


BUDGETS = (
    Budget("files", "files.max_bytes_per_user", "bytes", lambda c: c.files.max_bytes_per_user,
           _files, admins_exempt=True),
    Budget("topics", "topics.max_topics_per_user", "topics",
           lambda c: c.topics.max_topics_per_user, _topics, admins_exempt=True),
    Budget("open tasks", "jobs.max_waiting_bytes_per_user", "bytes",
           lambda c: c.jobs.max_waiting_bytes_per_user, _task_bytes),
    Budget("unfinished jobs", "jobs.max_jobs", "jobs", lambda c: c.jobs.max_jobs, _jobs),
    Budget("sentiment symbols", "sentiment.max_symbols", "symbols",
           lambda c: c.sentiment.max_symbols, _symbols),
)  # fmt: skip


class BudgetService:
    frames = budgets_frames.FRAMES

    def __init__(
        self,
        config: Config,
        holdings: Holdings,
        auditor: Auditor,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self._config = config
        self._holdings = holdings
        self._auditor = auditor
        self._spawn = spawn

    def handlers(self) -> Mapping[str, Handler]:
        return {"budget": self.budget}

    def session_ended(self, session: Session) -> None:
        pass  # nothing held per session

    async def rows(self, user: str, admin: bool) -> list[BudgetRow]:
        return [
            BudgetRow(
                b.name,
                b.key,
                await b.used(self._holdings, user),
                None if admin and b.admins_exempt else b.limit(self._config),
                b.unit,
            )
            for b in BUDGETS
        ]

    def budget(self, session: Session, frame: BudgetRequest) -> None:
        me = session.user
        assert me is not None
        user = frame.user or me.name
        if user != me.name and not may(me, "admin"):
            self._auditor.forbidden(session, "only admins see another user's budget", frame.id)
            return

        async def answer() -> None:
            record = self._holdings.store.get_user(user)
            if record is None:
                session.send(error_line("not_found", f"no user {user!r}", frame.id))
                return
            admin = may(record, "admin")
            rows = await self.rows(user, admin)
            session.send(encode(BudgetReply(user=user, rows=rows, re=frame.id)))

        session.replying(self._spawn(answer()))
