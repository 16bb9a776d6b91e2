"""Every frame of protocol v1 as an immutable, tagged ``msgspec.Struct`` (PROTOCOL.md 1, 1.1).

The tag field is ``"t"``. Client frames form :data:`ClientFrame`, server frames
:data:`ServerFrame`; decoders and encoders for them live in :mod:`tradewire.protocol.codec`.
Unknown fields are ignored so that newer clients can talk to this server.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from tradewire.model import Account as Account
from tradewire.model import Int64 as Int64
from tradewire.model import PendingOrder as PendingOrder
from tradewire.model import Position as Position

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)

# Correlation ids are echoed back as "re": keep them small enough to echo safely.
RequestId = (
    Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, msgspec.Meta(max_length=128)]
    | None
)
Role = Literal["provider", "follower", "admin", "worker"]
ROLES: tuple[Role, ...] = ("provider", "follower", "admin", "worker")


class _Frame(msgspec.Struct, frozen=True, tag_field="t", omit_defaults=True):
    """Base of all frames."""


def _tags(union: Any) -> list[str]:
    """The ``"t"`` values of the frames in a union."""
    return [str(frame.__struct_config__.tag) for frame in union.__args__]


# ---- shared values -------------------------------------------------------------------------


# Account and Position are the domain model's (tradewire.model), shared with copy and brokers.


# ---- client -> server ----------------------------------------------------------------------


class Hello(_Frame, frozen=True, tag="hello"):
    v: Int64
    user: str
    password: str
    agent: str = ""
    id: RequestId = None


class Ping(_Frame, frozen=True, tag="ping"):
    id: RequestId = None


class Pong(_Frame, frozen=True, tag="pong"):
    re: RequestId = None
    # The hub's clock (monotonic microseconds) as it answered: clients measure their offset
    # to the hub's clock from it, for the per-hop latency stamps (docs/latency.md).
    now_us: Int64 | None = None


class Sub(_Frame, frozen=True, tag="sub"):
    """Subscribe to one kind of stream, named by the one field given: a signal channel
    (``ch``), live ticks (``ticks``: symbols or "*"), sentiment (``sentiment``: symbols or
    "*"), or topics (``topics``: names, or prefixes ending in "*")."""

    ch: str | None = None
    ticks: list[str] | None = None
    sentiment: list[str] | None = None
    topics: list[str] | None = None
    id: RequestId = None


class Unsub(_Frame, frozen=True, tag="unsub"):
    ch: str | None = None
    ticks: list[str] | None = None
    sentiment: list[str] | None = None
    topics: list[str] | None = None
    id: RequestId = None


SUB_KINDS = ("ch", "ticks", "sentiment", "topics")


def sub_kind(frame: Sub | Unsub) -> str | None:
    """The one stream a ``sub``/``unsub`` names, or ``None`` when it names none or several."""
    given = [kind for kind in SUB_KINDS if getattr(frame, kind) is not None]
    return given[0] if len(given) == 1 else None


class PublishState(_Frame, frozen=True, tag="state"):
    """A provider's full position state for channel ``ch``."""

    ch: str
    ts: Int64
    account: Account
    positions: list[Position]
    # Protocol 1.2: the provider's pending orders. None (absent, a 1.1 provider) says nothing
    # about them; [] says there are none.
    orders: list[PendingOrder] | None = None
    id: RequestId = None
    # Replace a live publisher of another account or user (audited); see PROTOCOL.md 1.1.
    takeover: bool = False
    # When the provider saw the change, on the hub's clock (microseconds; docs/latency.md).
    det_us: Int64 | None = None


class Bye(_Frame, frozen=True, tag="bye"):
    reason: str = ""


TickValue = Annotated[float, msgspec.Meta(ge=0)]  # finite: checked over the column


class PublishTicks(_Frame, frozen=True, tag="ticks"):
    """Ticks, acked once all are durable; a frame resent with the same ``id`` by the same user
    is stored once. Either ``rows`` ``[symbol, time_ms, bid, ask, last?, volume?]``, or
    columns: ``symbols``, ``sym`` (an index into symbols per tick; not needed for one symbol),
    ``time_ms``, ``bid``, ``ask``, and optionally ``last`` and ``volume``
    (protocol/tick_columns.py)."""

    rows: list[list[Any]] | None = None
    id: RequestId = None
    symbols: list[str] | None = None
    sym: list[Annotated[int, msgspec.Meta(ge=0)]] | None = None
    time_ms: list[Int64] | None = None
    bid: list[TickValue] | None = None
    ask: list[TickValue] | None = None
    last: list[TickValue] | None = None
    volume: list[TickValue] | None = None


MetaValue = str | int | float | bool


class FilePut(_Frame, frozen=True, tag="file_put"):
    """Store a new version of file ``name`` (providers and admins). ``data`` is base64 in JSON."""

    name: str
    data: bytes
    meta: dict[str, MetaValue] = {}
    id: RequestId = None


class FileGet(_Frame, frozen=True, tag="file_get"):
    """Fetch the latest version of ``name``, or ``version`` when given."""

    name: str
    version: Int64 | None = None
    id: RequestId = None


class FileList(_Frame, frozen=True, tag="file_list"):
    id: RequestId = None


class Sessions(_Frame, frozen=True, tag="sessions"):
    """Admins: list the hub's live sessions (answered with ``session_list``)."""

    id: RequestId = None


LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)  # then "more"
Small = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Millis = Annotated[float, msgspec.Meta(ge=0, le=1e9)] | None


class FollowerReport(_Frame, frozen=True, tag="follower_report"):
    """A follower's copy quality, for the dashboard (sent every few seconds; kept while its
    session lives). ``latency_hist``: fills per latency bucket of ``LATENCY_EDGES_MS``."""

    ch: str
    in_sync: bool
    seq: Small | None = None
    fills: Small = 0
    rejects: Small = 0
    skips: Small = 0
    errors: Small = 0
    latency_p50_ms: Millis = None
    latency_p99_ms: Millis = None
    slippage_mean_pts: Annotated[float, msgspec.Meta(ge=-1e9, le=1e9)] | None = None
    latency_hist: Annotated[list[Small], msgspec.Meta(max_length=len(LATENCY_EDGES_MS) + 1)] = []
    # what stops copying now, for the operator (a risk halt, a runaway breaker, stop_equity)
    alert: Annotated[str, msgspec.Meta(max_length=300)] = ""
    id: RequestId = None


class StatusRequest(_Frame, frozen=True, tag="status"):
    """Admins: every metric of the hub now (answered with ``status``)."""

    id: RequestId = None


class BudgetRequest(_Frame, frozen=True, tag="budget"):
    """What ``user`` (default: yourself; another user: admins only) holds of each per-user
    budget (answered with ``budget``; protocol 1.3)."""

    user: str | None = None
    id: RequestId = None


class Kick(_Frame, frozen=True, tag="kick"):
    """Admins: close the session ``session``, or every session of ``user`` (``bye`` with
    reason ``kicked``). Answered with ``ack`` whose ``n`` is the number closed."""

    session: str | None = None
    user: str | None = None
    id: RequestId = None


class Listen(_Frame, frozen=True, tag="listen"):
    """Receive relay messages addressed to ``name``: the user's own name, or ``user/label``.
    The latest session to listen under a name gets its messages."""

    name: str
    id: RequestId = None


class Relay(_Frame, frozen=True, tag="relay"):
    """A message to the session listening under ``to`` (grant ``relay:<user>``). One-way: the
    hub acks it once handed to the addressee. With ``reply``: the addressee's answer comes back
    as ``relayed`` (or ``error`` ``timeout``/``unreachable``) with ``re`` = ``id``."""

    to: str
    body: msgspec.Raw  # any JSON value, forwarded as sent (never re-encoded)
    id: RequestId = None
    reply: bool = False
    timeout_ms: Annotated[int, msgspec.Meta(ge=1, le=600_000)] | None = None


class RelayAnswer(_Frame, frozen=True, tag="reply"):
    """The addressee's answer to a ``relay_in`` that carried ``rid``."""

    rid: Int64
    body: msgspec.Raw
    id: RequestId = None


Volume = Annotated[float, msgspec.Meta(ge=0, le=1e9)]
Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Price = Annotated[float, msgspec.Meta(ge=0, le=1e12)]


class SentimentPut(_Frame, frozen=True, tag="sentiment_put"):
    """A user's positions in ``symbol`` for the crowd's sentiment: volumes in lots, position
    counts (1 each side with volume, when left out), volume-weighted entry prices. It replaces
    the user's earlier contribution for the symbol and lapses after ``ttl_s`` or at logout."""

    symbol: str
    long: Volume = 0.0
    short: Volume = 0.0
    long_n: Count | None = None
    short_n: Count | None = None
    long_price: Price = 0.0
    short_price: Price = 0.0
    ttl_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] | None = None
    id: RequestId = None


class TopicPub(_Frame, frozen=True, tag="topic_pub"):
    """Publish ``value`` (any JSON) on ``topic``; acked with the topic's ``seq`` once stored
    (the last value of every topic is kept and given to each new subscriber)."""

    topic: str
    value: msgspec.Raw
    id: RequestId = None


class TopicDel(_Frame, frozen=True, tag="topic_del"):
    """Delete ``topic`` and its kept value (its creator or an admin; protocol 1.3)."""

    topic: str
    id: RequestId = None


JobId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{16}$")]
TaskIndex = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
FunctionRef = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][\w.]{0,199}:[A-Za-z_]\w{0,99}$")]


class JobSubmit(_Frame, frozen=True, tag="job_submit"):
    """A job: the function ``module:name`` a worker runs once per task payload. Answered with
    ``job``. More tasks can follow in ``job_add`` frames (a frame has a size limit)."""

    fn: FunctionRef
    tasks: list[msgspec.Raw]
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    lease_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 30.0
    id: RequestId = None


class JobAdd(_Frame, frozen=True, tag="job_add"):
    job: JobId
    tasks: list[msgspec.Raw]
    id: RequestId = None


class JobStatus(_Frame, frozen=True, tag="job_status"):
    job: JobId
    id: RequestId = None


class JobResults(_Frame, frozen=True, tag="job_results"):
    job: JobId
    offset: TaskIndex = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000
    id: RequestId = None


class JobCancel(_Frame, frozen=True, tag="job_cancel"):
    job: JobId
    id: RequestId = None


class TaskLease(_Frame, frozen=True, tag="task_lease"):
    """Workers: up to ``max`` tasks, waiting up to ``wait_ms`` for one (answered ``tasks``)."""

    max: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    wait_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 20_000
    id: RequestId = None


class TaskExtend(_Frame, frozen=True, tag="task_extend"):
    job: JobId
    task: TaskIndex
    id: RequestId = None


class TaskResult(_Frame, frozen=True, tag="task_result"):
    """A task's outcome: ``ok`` with its ``value``, or not with its ``error``."""

    job: JobId
    task: TaskIndex
    ok: bool
    value: msgspec.Raw = msgspec.Raw(b"null")
    error: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    id: RequestId = None


ClientFrame = (
    Hello
    | Ping
    | Pong
    | Sub
    | Unsub
    | PublishState
    | Bye
    | PublishTicks
    | FilePut
    | FileGet
    | FileList
    | Sessions
    | Kick
    | StatusRequest
    | BudgetRequest
    | FollowerReport
    | Listen
    | Relay
    | RelayAnswer
    | SentimentPut
    | TopicPub
    | TopicDel
    | JobSubmit
    | JobAdd
    | JobStatus
    | JobResults
    | JobCancel
    | TaskLease
    | TaskExtend
    | TaskResult
)
CLIENT_FRAME_TYPES = frozenset(_tags(ClientFrame))  # derived: a new frame is one edit

# ---- server -> client ----------------------------------------------------------------------


class Welcome(_Frame, frozen=True, tag="welcome"):
    v: int
    server: str
    session: str
    heartbeat_s: float
    roles: list[str]
    re: RequestId = None
    # The longest line the hub accepts from you. The hub always says it (None only from a hub
    # that did not: then DEFAULT_MAX_FRAME_BYTES applies). Not an int default: msgspec omits a
    # field whose value *is* its default object, which made the hub's welcome depend on which
    # int object its configuration held.
    max_frame_bytes: int | None = None
    host: str = ""  # the hub's host and boot: a client that shares it shares its clock


class Ack(_Frame, frozen=True, tag="ack"):
    re: RequestId = None
    seq: int | None = None
    n: int | None = None


class Error(_Frame, frozen=True, tag="error"):
    code: str
    msg: str = ""
    re: RequestId = None
    retry_after_s: float | None = None
    supported: list[int] | None = None
    since_ms: int | None = None  # channel_busy: when the live publisher started publishing
    ch: str | None = None  # revoked: the channel whose grant was withdrawn


class StateUpdate(_Frame, frozen=True, tag="state"):
    """A channel's state as the hub sends it: the provider's state stamped with ``seq``."""

    ch: str
    seq: int
    ts: int
    account: Account
    positions: list[Position]
    orders: list[PendingOrder] | None = None  # protocol 1.2 (PublishState.orders)
    # Per-hop stamps on the hub's clock, microseconds (0: unknown): the provider saw the change,
    # the hub received it, the hub stored it and began writing it out (docs/latency.md).
    hops: list[int] | None = None


class TicksUpdate(_Frame, frozen=True, tag="ticks"):
    """Live ticks for a subscriber: rows ``[symbol, time_ms, bid, ask, last, volume]``."""

    rows: list[list[Any]]


class FileInfo(msgspec.Struct, frozen=True):
    name: str
    version: int
    size: int
    sha256: str
    ts: int
    user: str
    meta: dict[str, MetaValue] = {}


class FileData(_Frame, frozen=True, tag="file"):
    """The answer to ``file_get``: the bytes (base64 in JSON), their SHA-256 and metadata."""

    name: str
    version: int
    data: bytes
    sha256: str
    ts: int
    meta: dict[str, MetaValue] = {}
    re: RequestId = None


class FileListing(_Frame, frozen=True, tag="files"):
    """The answer to ``file_list``: the latest version of every stored file."""

    files: list[FileInfo]
    re: RequestId = None


class SessionInfo(msgspec.Struct, frozen=True):
    session: str
    user: str
    role: str
    address: str
    since_ms: int
    agent: str = ""
    subscribed: list[str] = []
    publishing: list[str] = []


class SessionList(_Frame, frozen=True, tag="session_list"):
    sessions: list[SessionInfo]
    re: RequestId = None


class RelayIn(_Frame, frozen=True, tag="relay_in"):
    """A relayed message for a listener: ``rid`` is set when the sender waits for a ``reply``."""

    sender: str = msgspec.field(name="from")
    to: str
    body: msgspec.Raw
    rid: int | None = None


class Relayed(_Frame, frozen=True, tag="relayed"):
    """The answer to a ``relay`` request (``re`` = the request's ``id``)."""

    sender: str = msgspec.field(name="from")
    body: msgspec.Raw
    re: RequestId = None


class SentimentRow(msgspec.Struct, frozen=True, omit_defaults=True):
    """The crowd in one symbol. ``withheld``: fewer than the hub's minimum of contributors now
    (every other field then zero): forget the earlier figures."""

    symbol: str
    long_volume: float = 0.0
    short_volume: float = 0.0
    long_pct: float = 0.0
    short_pct: float = 0.0
    long_positions: int = 0
    short_positions: int = 0
    contributors: int = 0
    long_price: float = 0.0
    short_price: float = 0.0
    withheld: bool = False


class SentimentUpdate(_Frame, frozen=True, tag="sentiment"):
    rows: list[SentimentRow]
    ts: int
    re: RequestId = None


class TopicUpdate(_Frame, frozen=True, tag="topic"):
    """A topic's value as the hub sends it: numbered per topic (``seq``), stamped (``ts``)."""

    topic: str
    seq: int
    ts: int
    value: msgspec.Raw


class JobInfo(_Frame, frozen=True, tag="job"):
    """A job's progress: ``done`` + ``failed`` of ``n`` tasks are finished."""

    job: str
    fn: str
    n: int
    done: int
    failed: int
    leased: int
    status: str  # running, finished, cancelled
    re: RequestId = None


class TaskOutcome(msgspec.Struct, frozen=True):
    task: int
    ok: bool
    value: msgspec.Raw  # null when the task failed
    error: str
    attempts: int


class JobResultList(_Frame, frozen=True, tag="results"):
    job: str
    results: list[TaskOutcome]
    re: RequestId = None


class LeasedTask(msgspec.Struct, frozen=True):
    job: str
    task: int
    fn: str
    payload: msgspec.Raw
    attempt: int
    lease_s: float


class Tasks(_Frame, frozen=True, tag="tasks"):
    tasks: list[LeasedTask]
    re: RequestId = None


class MetricSample(msgspec.Struct, frozen=True, omit_defaults=True):
    labels: dict[str, str] = {}
    value: float = 0.0


class BudgetRow(msgspec.Struct, frozen=True):
    budget: str  # e.g. "files"
    key: str  # the configuration key of its limit, e.g. "files.max_bytes_per_user"
    used: int
    limit: int | None  # None: not held to it (admins, for the quotas they are exempt from)
    unit: str  # "bytes", "topics", "jobs", "symbols"


class BudgetReply(_Frame, frozen=True, tag="budget"):
    user: str
    rows: list[BudgetRow]
    re: RequestId = None


class StatusReply(_Frame, frozen=True, tag="status"):
    """The hub's metrics: counters and gauges as samples; histograms as count, sum, p50, p99
    (upper bounds of the buckets they fall in, seconds)."""

    uptime_s: float
    version: str
    metrics: dict[str, list[MetricSample]]
    histograms: dict[str, dict[str, float | None]]
    re: RequestId = None


ServerFrame = (
    Welcome
    | Ack
    | Error
    | StateUpdate
    | Ping
    | Pong
    | Bye
    | TicksUpdate
    | FileData
    | FileListing
    | SessionList
    | RelayIn
    | Relayed
    | SentimentUpdate
    | TopicUpdate
    | JobInfo
    | JobResultList
    | Tasks
    | StatusReply
    | BudgetReply
)

ERROR_CODES = frozenset(
    {
        "bad_frame",
        "frame_too_large",
        "auth_failed",
        "auth_timeout",
        "banned",
        "unsupported_version",
        "forbidden",
        "not_found",
        "invalid_state",
        "invalid_ticks",
        "rate_limited",
        "file_too_large",
        "server_busy",
        "channel_busy",
        "revoked",
        "unreachable",
        "timeout",
        "name_taken",
        "internal",
    }
)
