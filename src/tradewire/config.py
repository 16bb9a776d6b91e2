"""The TOML configuration (PROTOCOL.md section 4): every key optional, validated at start.

A bad key or value raises :class:`ConfigError` whose message names the key, e.g.
``hub.port: Expected `int` <= 65535``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from tradewire.allowlist import AllowEntry
from tradewire.exceptions import ConfigError
from tradewire.protocol.framing import DEFAULT_HEARTBEAT_S, DEFAULT_MAX_FRAME_BYTES
from tradewire.protocol.names import is_channel, is_symbol

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class HubSettings(_Section, frozen=True):
    # Loopback unless told otherwise; another address without TLS needs allow_plaintext.
    host: str = "127.0.0.1"
    port: Port = 7400
    allow_plaintext: bool = False
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=1024, le=16 * 1024 * 1024)] = (
        DEFAULT_MAX_FRAME_BYTES
    )
    auth_timeout_s: Positive = 10.0
    heartbeat_s: Positive = DEFAULT_HEARTBEAT_S
    # Silence longer than this closes an authenticated session; 0 means 3 x heartbeat_s.
    idle_timeout_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    max_connections: Count = 20_000
    max_connections_per_address: Count = 200
    max_subscriptions: Count = 256
    # Logins waiting for a password check; beyond this the hub answers server_busy.
    max_pending_logins: Count = 256
    auth_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    # Per-connection bytes queued in the hub before a subscriber counts as slow (conflation).
    write_buffer_bytes: Annotated[int, msgspec.Meta(ge=4096)] = 262_144
    # Threads that write a state to many subscribers alongside the event loop (hub/fanout.py);
    # -1: one per core beyond the second, at most 8; 0: the event loop alone.
    fanout_threads: Annotated[int, msgspec.Meta(ge=-1, le=64)] = -1

    @property
    def fanout_thread_count(self) -> int:
        if self.fanout_threads >= 0:
            return self.fanout_threads
        # Below 4 cores the threads take the core the network's other end (the kernel's
        # receive work, clients on the same host) needs: measured on 2 cores, the p50 fell by
        # a tenth to a sixth and the p99 nearly doubled (benchmarks/RESULTS.md, tw-threads).
        return max(0, min(8, (os.cpu_count() or 1) - 2))

    @property
    def idle_timeout(self) -> float:
        return self.idle_timeout_s or 3 * self.heartbeat_s


class TlsSettings(_Section, frozen=True):
    cert: str | None = None
    key: str | None = None

    @property
    def enabled(self) -> bool:
        return self.cert is not None


class BanSettings(_Section, frozen=True):
    max_failures: Count = 5
    window_s: Positive = 600.0
    duration_s: Positive = 600.0
    max_duration_s: Positive = 86_400.0
    exempt: list[str] = []
    # Per user name, across addresses: after this many failures in window_s, each further
    # check of that name waits (doubling from name_delay_s up to name_max_delay_s).
    name_throttle_after: Count = 10
    name_delay_s: Positive = 0.25
    name_max_delay_s: Positive = 5.0
    # Per user name: at most this many password checks per window_s from sources that never
    # logged in as that user (a source that did is never held up by this, nor delayed).
    name_max_checks: Count = 10
    # Failures are counted and bans made per source: an IPv4 address (/32) or an IPv6 /64.
    ipv4_prefix: Annotated[int, msgspec.Meta(ge=8, le=32)] = 32
    ipv6_prefix: Annotated[int, msgspec.Meta(ge=16, le=128)] = 64


class AuditSettings(_Section, frozen=True):
    """``[audit]``: how much of the audit log is kept (older rows are deleted hourly)."""

    max_age_days: Positive = 365.0
    max_rows: Annotated[int, msgspec.Meta(ge=1000)] = 1_000_000


class AuthSettings(_Section, frozen=True):
    # argon2id cost; the defaults are OWASP's minimum recommendation (19 MiB, 2 passes).
    argon2_time_cost: Annotated[int, msgspec.Meta(ge=1, le=20)] = 2
    argon2_memory_kib: Annotated[int, msgspec.Meta(ge=1024, le=4 * 1024 * 1024)] = 19_456
    argon2_parallelism: Annotated[int, msgspec.Meta(ge=1, le=16)] = 1


class ArticleSignalSettings(_Section, frozen=True):
    """``[listeners.signal]``: the article's <<SYMBOL|NET>> stream of one channel."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8081
    channel: str = "alpha"
    allow: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1"])


class TickListenerSettings(_Section, frozen=True):
    """``[listeners.udp_ticks]`` and ``[listeners.tcp_ticks]``: text ticks."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 0
    allow: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1"])


class UdpTickListenerSettings(TickListenerSettings, frozen=True):
    """``[listeners.udp_ticks]``: the documented port applies whenever ``port`` is absent."""

    port: Port = 8082


class TcpTickListenerSettings(TickListenerSettings, frozen=True):
    """``[listeners.tcp_ticks]``."""

    port: Port = 7401


class TemplateListenerSettings(_Section, frozen=True):
    """``[listeners.template]``: the article's chart-template transfer of one stored file."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8080
    name: str = "chart"
    allow: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1"])


class FileSettings(_Section, frozen=True):
    """``[files]``: files distributed through the hub (file_put / file_get)."""

    # Largest file accepted; 0 means as large as fits in one frame (3/4 of max_frame_bytes).
    max_bytes: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Versions kept per name; older ones are deleted when a new one is stored.
    keep_versions: Count = 10
    # What one user's files may take in all (every version kept counts; admins are exempt).
    max_bytes_per_user: Count = 100 * 1024 * 1024


class SentimentListenerSettings(_Section, frozen=True):
    """``[listeners.sentiment]``: the article's <<SYMBOL|VOLUME>> -> <<SYMBOL|TOTAL>> exchange."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8083
    allow: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1"])


class ListenerSettings(_Section, frozen=True):
    signal: ArticleSignalSettings = ArticleSignalSettings()
    template: TemplateListenerSettings = TemplateListenerSettings()
    udp_ticks: UdpTickListenerSettings = UdpTickListenerSettings()
    tcp_ticks: TcpTickListenerSettings = TcpTickListenerSettings()
    sentiment: SentimentListenerSettings = SentimentListenerSettings()


class SmtpSettings(_Section, frozen=True):
    """``[mql5.mail]``: where ``SendMail`` delivers (the terminal's Email tab)."""

    enabled: bool = True
    host: str = ""
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    login: str = ""
    password: str = ""
    # Name of an environment variable holding the password (keeps it out of the file).
    password_env: str = ""
    from_addr: str = msgspec.field(default="", name="from")
    to: list[str] = []
    timeout_s: Positive = 30.0


class FtpSettings(_Section, frozen=True):
    """``[mql5.ftp]``: where ``SendFTP`` uploads (the terminal's FTP tab)."""

    enabled: bool = True
    host: str = ""
    port: Port = 21
    login: str = "anonymous"
    password: str = ""
    password_env: str = ""
    path: str = "/"
    passive: bool = True
    timeout_s: Positive = 30.0


class NotificationSettings(_Section, frozen=True):
    """``[mql5.notifications]``: ``SendNotification`` targets as apprise URLs."""

    enabled: bool = True
    urls: list[str] = []


class Mql5Settings(_Section, frozen=True):
    """``[mql5]``: the user's settings for ``tradewire.mql5``; programs cannot change them."""

    # Addresses SocketConnect and WebRequest may reach: "host", "host:port", an IP or CIDR
    # block, or a URL prefix such as "https://api.example.com/v1/". Empty: nothing is reachable.
    allow: list[str] = []
    # SocketCreate/SocketRead/SendFTP work with files under this folder (MQL5/Files).
    files_dir: str = "mql5-files"
    # SocketConnect to one of these ports performs the TLS handshake by itself.
    tls_ports: list[Port] = msgspec.field(default_factory=lambda: [443])
    # Extra CA certificates (PEM) trusted by TLS sockets and WebRequest, besides the system's.
    ca_file: str | None = None
    mail: SmtpSettings = SmtpSettings()
    ftp: FtpSettings = FtpSettings()
    notifications: NotificationSettings = NotificationSettings()


class RelaySettings(_Section, frozen=True):
    """``[relay]``: messages and requests between clients through the hub (docs/relay.md)."""

    max_body_bytes: Count = 60_000  # the JSON body of one message
    max_pending: Count = 64  # requests one session may have waiting for an answer
    default_timeout_s: Positive = 10.0  # a request without timeout_ms
    max_names: Count = 8  # names one session may listen under
    rate_per_s: Positive = 200.0  # relay frames one session may send, sustained
    burst: Count = 400  # ... and at once


class SentimentSettings(_Section, frozen=True):
    """``[sentiment]``: the crowd's positions per symbol (docs/sentiment.md)."""

    min_contributors: Count = 3  # fewer distinct users: the symbol is withheld
    interval_s: Positive = 1.0  # how often subscribers get what changed
    ttl_s: Positive = 300.0  # a contribution without ttl_s lapses after this
    max_symbols: Count = 500  # symbols one user may contribute to at once
    from_states: bool = False  # also count each provider's published positions
    rate_per_s: Positive = 50.0  # sentiment_put frames one session may send, sustained
    burst: Count = 200


class HistorySettings(_Section, frozen=True):
    """``[history]``: each channel's history, for its statistics (docs/statistics.md)."""

    enabled: bool = True
    sample_s: Positive = 60.0  # equity kept at least this often while the provider is live
    keep_days: Positive = 3650.0  # older moments are deleted
    max_points_per_channel: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 200_000
    # what one channel's kept positions may take on disk (a provider with many positions)
    max_bytes_per_channel: Annotated[int, msgspec.Meta(ge=1 << 20)] = 64 << 20
    rate_per_s: Positive = 5.0  # channel_stats requests one session may make, sustained
    burst: Count = 10
    # The deals providers send (protocol 1.5): kept per channel, the oldest go first.
    max_deals_per_channel: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 100_000
    deals_rate_per_s: Positive = 20.0  # deals frames one session may send, sustained
    deals_burst: Count = 100
    # What-if replays (docs/simulate.md): one at a time, each in a process of its own.
    simulate_max_moments: Annotated[int, msgspec.Meta(ge=10, le=1_000_000)] = 20_000
    simulate_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300.0
    simulate_memory_mb: Annotated[int, msgspec.Meta(ge=256, le=65_536)] = 2048
    # Channels whose statistics page is open to anyone, without a login (/channels/NAME).
    public: list[str] = msgspec.field(default_factory=list)
    public_rate_per_s: Positive = 2.0  # public page requests one address may make, sustained
    public_burst: Count = 20


class IndicatorSettings(_Section, frozen=True):
    """``[[topics.indicators]]``: one indicator the hub computes from the live ticks it
    collects and publishes on ``ind.SYMBOL.TIMEFRAME.KINDPERIOD`` at each closed bar."""

    symbol: str
    timeframe: Literal["S5", "S15", "M1", "M5", "M15", "M30", "H1", "H4", "D1"] = "M1"
    kind: Literal["sma", "rsi", "atr"] = "sma"
    period: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 14


class TopicSettings(_Section, frozen=True):
    """``[topics]``: named topics carrying JSON values (docs/topics.md)."""

    max_value_bytes: Count = 16_384  # one value
    max_topics: Count = 10_000  # topics the hub keeps (a new one beyond is refused)
    max_topics_per_user: Count = 1000  # topics one user created and has not deleted (admins exempt)
    expire_days: Positive = 30.0  # a topic without a new value for this long is deleted
    max_subscriptions: Count = 100  # names and prefixes one session may subscribe to
    rate_per_s: Positive = 100.0  # topic_pub frames one session may send, sustained
    burst: Count = 200
    # topic sub/unsub frames one session may send, sustained and at once
    subscribe_rate_per_s: Positive = 5.0
    subscribe_burst: Count = 10
    indicators: list[IndicatorSettings] = msgspec.field(default_factory=list)


class JobSettings(_Section, frozen=True):
    """``[jobs]``: shared computation (docs/jobs.md)."""

    max_tasks: Count = 100_000  # tasks of one job
    max_jobs: Count = 100  # unfinished jobs of one user
    max_payload_bytes: Count = 16_384  # one task's payload
    # payload bytes of one user's open tasks (waiting or running) in all their jobs
    max_waiting_bytes_per_user: Count = 64 * 1024 * 1024
    max_result_bytes: Count = 32_768  # one task's result
    keep_days: Positive = 30.0  # finished jobs are deleted after this
    rate_per_s: Positive = 500.0  # job and task frames one session may send, sustained
    burst: Count = 1000


class ListenerLimit(_Section, frozen=True):
    """Caps and the idle timeout of one listener (hub/listener_gate.py)."""

    max_connections: Count = 1000
    max_connections_per_address: Count = 64
    # Nothing received for this long closes a connection; 0: never (silent by design).
    idle_timeout_s: Annotated[float, msgspec.Meta(ge=0)] = 60.0


class WebLimit(ListenerLimit, frozen=True):
    pass


class SignalLimit(ListenerLimit, frozen=True):
    max_connections_per_address: Count = 16
    idle_timeout_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # its clients never send


class TemplateLimit(ListenerLimit, frozen=True):
    max_connections: Count = 100
    max_connections_per_address: Count = 8
    idle_timeout_s: Annotated[float, msgspec.Meta(ge=0)] = 10.0  # one file, then closed


class SentimentLimit(ListenerLimit, frozen=True):
    max_connections_per_address: Count = 16


class TickLimit(ListenerLimit, frozen=True):
    max_connections_per_address: Count = 16


class LimitSettings(_Section, frozen=True):
    """``[limits.NAME]``: one table of caps and timeouts for every listener beside the native
    port (whose own are ``hub.max_connections``, ``hub.max_connections_per_address``,
    ``hub.auth_timeout_s`` and ``hub.idle_timeout_s``)."""

    web: WebLimit = WebLimit()
    signal: SignalLimit = SignalLimit()
    template: TemplateLimit = TemplateLimit()
    sentiment: SentimentLimit = SentimentLimit()
    tcp_ticks: TickLimit = TickLimit()


class WebSettings(_Section, frozen=True):
    """``[web]``: the hub's HTTP side: /metrics, /healthz, /readyz (docs/operations.md).
    Off by default; under ``[tls]`` it speaks HTTPS with the hub's certificate."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 7480
    dashboard: bool = True  # the admin dashboard at / (metrics and health are always on)


class TickSettings(_Section, frozen=True):
    """``[ticks]``: where ticks are stored (docs/scaling.md)."""

    # A PostgreSQL URL: ticks go there instead of <data>/ticks.db (password in PGPASSWORD).
    postgres: str = ""


class NatsSettings(_Section, frozen=True):
    """``[nats]``: share channels, topics and bans with other hubs through NATS JetStream
    (docs/scaling.md). Without ``servers`` the hub keeps everything to itself (the local bus)."""

    servers: list[str] = []  # e.g. ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"]
    replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1  # copies of each stream (cluster)
    publish_timeout_s: Positive = 2.0  # a state NATS has not stored by then is refused
    connect_timeout_s: Positive = 10.0  # at start: no NATS by then, the hub does not start
    ca_file: str | None = None  # tls:// servers: trust this CA (PEM) besides the system's
    # Cut off from NATS this long, the hub says bye (bus_unavailable) to every client so they
    # fail over to a hub that is not, rather than follow a silently stale channel.
    lost_after_s: Positive = 3.0

    @property
    def enabled(self) -> bool:
        return bool(self.servers)


class Config(_Section, frozen=True):
    hub: HubSettings = HubSettings()
    listeners: ListenerSettings = ListenerSettings()
    limits: LimitSettings = LimitSettings()
    files: FileSettings = FileSettings()
    mql5: Mql5Settings = Mql5Settings()
    tls: TlsSettings = TlsSettings()
    ban: BanSettings = BanSettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    relay: RelaySettings = RelaySettings()
    sentiment: SentimentSettings = SentimentSettings()
    history: HistorySettings = HistorySettings()
    topics: TopicSettings = TopicSettings()
    jobs: JobSettings = JobSettings()
    web: WebSettings = WebSettings()
    nats: NatsSettings = NatsSettings()
    ticks: TickSettings = TickSettings()


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


S = TypeVar("S")


def parse_section(
    data: dict[str, Any], kind: type[S], source: str, docs: str = "docs/configuration.md"
) -> S:
    """Convert ``data`` to ``kind``; raises :class:`ConfigError` naming the bad key (and
    ``docs``, where the keys there are are described)."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT.search(text)
        where = match.group("path") if match else ""
        reason = _AT.sub("", text)
        if reason.startswith("Object contains unknown field"):
            field = reason.split("`")[1]
            where = f"{where}.{field}" if where else field
            reason = f"unknown key (see {docs} for the keys there are)"
        raise ConfigError(
            f"{source}: {where}: {reason}" if where else f"{source}: {reason}"
        ) from None


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """Validate a parsed TOML mapping. Raises :class:`ConfigError` naming the bad key."""
    config = parse_section(data, Config, source)
    _check(config, source)
    return config


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML file; ``None`` gives the embedded defaults."""
    if path is None:
        return Config()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(data, str(path))


def _check(config: Config, source: str) -> None:
    for index, entry in enumerate(config.ban.exempt):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"{source}: ban.exempt[{index}]: {entry!r} is not an address or CIDR block"
            ) from None
    for name in ("signal", "template", "udp_ticks", "tcp_ticks", "sentiment"):
        for index, entry in enumerate(getattr(config.listeners, name).allow):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{source}: listeners.{name}.allow[{index}]: {entry!r} is "
                    "not an address or CIDR block"
                ) from None
    if not is_channel(config.listeners.signal.channel):
        raise ConfigError(f"{source}: listeners.signal.channel: not a channel name")
    for index, name in enumerate(config.history.public):
        if not is_channel(name):
            raise ConfigError(f"{source}: history.public[{index}]: {name!r} is not a channel name")
    for index, item in enumerate(config.topics.indicators):
        if not is_symbol(item.symbol):
            raise ConfigError(f"{source}: topics.indicators[{index}].symbol: not a symbol name")
    tls = config.tls
    if (tls.cert is None) != (tls.key is None):
        raise ConfigError(f"{source}: tls: set both tls.cert and tls.key, or neither")
    for name in ("cert", "key"):
        file = getattr(tls, name)
        if file is not None and not Path(file).is_file():
            raise ConfigError(f"{source}: tls.{name}: file {file!r} does not exist")
    _check_mql5(config.mql5, source)
    limit = config.files.max_bytes
    if limit and limit > file_limit(config):
        raise ConfigError(
            f"{source}: files.max_bytes: {limit} does not fit in one frame; raise "
            f"hub.max_frame_bytes to at least {limit * 4 // 3 + 1024}"
        )
    for index, url in enumerate(config.nats.servers):
        if not re.fullmatch(r"(nats|tls)://[^\s/]+:\d{1,5}", url):
            raise ConfigError(
                f"{source}: nats.servers[{index}]: {url!r} is not a NATS URL such as "
                "nats://127.0.0.1:4222"
            )
    check_postgres_url(config.ticks.postgres, f"{source}: ticks.postgres")
    if config.nats.ca_file is not None and not Path(config.nats.ca_file).is_file():
        raise ConfigError(f"{source}: nats.ca_file: file {config.nats.ca_file!r} does not exist")
    if config.ban.max_duration_s < config.ban.duration_s:
        raise ConfigError(f"{source}: ban.max_duration_s: must be >= ban.duration_s")


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def check_postgres_url(url: str, key: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` when ``url`` is not a PostgreSQL URL."""
    if url and not url.startswith(POSTGRES_SCHEMES):
        raise ConfigError(
            f"{key}: {url.split('@')[-1]!r} is not a PostgreSQL URL such as "
            "postgresql://tradewire@db.example:5432/ticks (the password goes in PGPASSWORD "
            "or ~/.pgpass, not in the URL)"
        )


def plaintext_problem(config: Config) -> str | None:
    """Why running as configured would send passwords in clear, or ``None``: the native
    port, the dashboard's login when ``[web]`` serves it, and NATS (it carries the users'
    password hashes between hubs) when a ``nats://`` server is not on this machine."""
    for index, url in enumerate(config.nats.servers):
        host = url.split("://", 1)[1].rsplit("@", 1)[-1].rsplit(":", 1)[0].strip("[]")
        if url.startswith("nats://") and not _loopback(host):
            return (
                f"nats.servers[{index}]: {host!r} is reached without TLS, so the users' password "
                "hashes and every shared state would cross the network in clear: use a "
                "tls:// URL, or hub.allow_plaintext = true"
            )
    if config.tls.enabled:
        return None
    places = [("hub.host", config.hub.host)]
    if config.web.enabled and config.web.dashboard:
        places.append(("web.host", config.web.host))
    for key, host in places:
        if not _loopback(host):
            return (
                f"{key} {host!r} is not a loopback address and TLS is off, so passwords would "
                "cross the network in clear: set [tls] cert and key, or hub.allow_plaintext = true"
            )
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or "" (every address): it may be reachable from anywhere


def secret(password: str, password_env: str) -> str:
    """A password from the environment variable named by ``*_env`` if set, else the literal."""
    return os.environ.get(password_env, "") if password_env else password


def file_limit(config: Config) -> int:
    """The largest file the hub stores: ``files.max_bytes`` or what base64 fits in a frame."""
    fits = (config.hub.max_frame_bytes - 1024) * 3 // 4
    return min(config.files.max_bytes or fits, fits)


def _check_mql5(settings: Mql5Settings, source: str) -> None:
    for index, entry in enumerate(settings.allow):
        try:
            AllowEntry.parse(entry)
        except ValueError as exc:
            raise ConfigError(f"{source}: mql5.allow[{index}]: {exc}") from None
    if settings.ca_file is not None and not Path(settings.ca_file).is_file():
        raise ConfigError(f"{source}: mql5.ca_file: file {settings.ca_file!r} does not exist")
    for index, url in enumerate(settings.notifications.urls):
        if "://" not in url:
            raise ConfigError(
                f"{source}: mql5.notifications.urls[{index}]: {url!r} is not an "
                "apprise URL such as ntfy://topic or json://host:port/path"
            )
