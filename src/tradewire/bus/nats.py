"""The NATS JetStream bus: several hubs, or several processes of one machine, share channels and
topics (docs/scaling.md).

One stream, ``TW_BUS``, keeps the latest message of every subject (``max_msgs_per_subject=1``):
JetStream is both the durable store and the one authority that orders a subject's messages.

* **Numbering.** A hub proposes ``seq = latest + 1`` and publishes with
  ``Nats-Expected-Last-Subject-Sequence`` set to the stream sequence of the latest it has seen.
  JetStream stores exactly one proposal per number; a hub that lost the race sees the winner's
  message arrive and proposes again. Two hubs never hand out the same ``seq``.
* **Resends.** Every publication carries ``Nats-Msg-Id`` (hub, subject, seq): a resend after a
  reconnect inside the duplicate window is stored once; after it, the expected-sequence check
  refuses it, so consumers never see one twice.
* **Delivery.** Every hub reads the stream through one ordered consumer (the latest of each
  subject first, then every new message) and hands each message to its local subscribers, so a
  subscriber on any hub sees the same messages in the same order. A publication is done when its
  message has come back that way, so the publisher's ack never overtakes the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import APIError

from tradewire.bus.base import (
    NO_PLUMBING,
    Done,
    Forgotten,
    LinkBack,
    LinkLost,
    Message,
    Plumbing,
    Stamp,
    SubjectSeen,
    SubjectState,
    SubjectTable,
)
from tradewire.exceptions import BusError

log = logging.getLogger(__name__)

STREAM = "TW_BUS"
PREFIX = "tw.bus."
TOMBSTONE_HEADER = "Tw-Deleted"  # a subject's message that deletes it (Bus.forget)
WRONG_LAST_SEQUENCE = 10071  # JetStream's err_code for a failed expected-sequence check
SEQ_HEADER = "Tw-Seq"
EVENTS = "tw.event."  # core NATS subjects of events for every hub: tw.event.KIND
TOLD = "tw.to."  # ... and for one: tw.to.HUB.KIND
Decode = Callable[[str, bytes], Any]  # (subject, line) -> the value a publisher stamped


def shown(servers: list[str]) -> str:
    """NATS URLs for messages: without the credentials some carry (``tls://u:pw@host:port``)."""
    return ", ".join(re.sub(r"//[^@/]*@", "//", url) for url in servers)


def token(subject: str) -> str:
    """A bus subject as one NATS subject token (letters, digits, ``-`` and ``_`` kept; every
    other character, ``.`` ``*`` ``>`` and spaces included, as ``~XX``)."""
    return "".join(
        c
        if c.isascii() and (c.isalnum() or c in "-_")
        else "".join(f"~{b:02x}" for b in c.encode())
        for c in subject
    )


def untoken(text: str) -> str:
    raw, i = bytearray(), 0
    while i < len(text):
        if text[i] == "~":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw += text[i].encode()
            i += 1
    return raw.decode()


class _Subject(SubjectState):
    __slots__ = ("changed", "forgotten_seq", "queue", "stream_seq")

    def __init__(self) -> None:
        super().__init__()
        self.stream_seq = 0  # JetStream's sequence of ``latest`` (0: not in the stream yet)
        self.forgotten_seq = 0  # the seq of its tombstone, while the subject is deleted
        # this hub's publications, and deletions (no stamp), in order
        self.queue: deque[tuple[Stamp | None, Done, int | None]] = deque()
        self.changed = asyncio.Event()


class NatsBus(SubjectTable[_Subject]):
    """``await start()`` before use, ``await close()`` at the end."""

    def __init__(
        self,
        servers: list[str],
        decode: Decode,
        *,
        name: str = "tradewire",
        replicas: int = 1,
        publish_timeout_s: float = 2.0,
        stream: str = STREAM,
        tls: ssl.SSLContext | None = None,
        plumbing: Plumbing = NO_PLUMBING,
    ) -> None:
        """``tls``: the context for ``tls://`` servers (default: the system's CAs).
        ``plumbing.told`` hears of subjects first seen through another hub and of the link
        lost and back."""
        self._tls = tls
        self._servers, self._decode, self.name = servers, decode, name
        super().__init__(_Subject, plumbing)
        self._replicas, self._timeout, self._stream = replicas, publish_timeout_s, stream
        self._pending: dict[str, Message] = {}  # by Nats-Msg-Id: our own, not decoded again
        self._tasks: set[asyncio.Task[None]] = set()
        self._caught_up = asyncio.Event()
        self.connected = False
        self._nc: Any = None
        self._closing = False
        self._last_error: Exception | None = None
        self._handlers: dict[str, list[Callable[[bytes], None]]] = {}
        self._outbox: deque[tuple[str, bytes]] = deque()  # events, sent in order

    # ---- lifecycle ------------------------------------------------------------------------------

    async def start(self, wait_s: float = 10.0) -> None:
        """Connect, create the stream if needed, read the latest of every subject."""
        try:
            async with asyncio.timeout(wait_s):
                await self._connect(wait_s)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            await self.close()
            why = str(exc) or f"no answer within {wait_s:g} s"
            if self._last_error is not None:  # e.g. a certificate that is not trusted
                why += f" (last error: {self._last_error})"
            raise BusError(f"NATS at {shown(self._servers)}: {why}") from exc
        self.connected = True

    async def _connect(self, wait_s: float) -> None:
        self._nc = await nats.connect(
            servers=self._servers,
            name=self.name,
            connect_timeout=min(wait_s, 2.0),
            max_reconnect_attempts=-1,  # a hub waits for NATS to return (and says so)
            reconnect_time_wait=0.25,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            error_cb=self._error,
            **({"tls": self._tls} if self._tls is not None else {}),
        )
        self._js = self._nc.jetstream(timeout=self._timeout)
        config = api.StreamConfig(
            name=self._stream,
            subjects=[PREFIX + ">"],
            max_msgs_per_subject=1,
            storage=api.StorageType.FILE,
            num_replicas=self._replicas,
            duplicate_window=120.0,
        )
        info = await self._js.add_stream(config)
        await self._nc.subscribe(EVENTS + "*", cb=self._event)
        await self._nc.subscribe(f"{TOLD}{token(self.name)}.*", cb=self._event)
        await self._js.subscribe(
            PREFIX + ">",
            cb=self._arrived,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
            idle_heartbeat=1.0,
        )
        if info.state.messages == 0:
            self._caught_up.set()
        await self._caught_up.wait()

    @property
    def jetstream(self) -> Any:
        """The JetStream context of this bus's connection (for services with streams of their
        own: the shared jobs)."""
        return self._js

    @property
    def server(self) -> str | None:
        """The NATS server this hub talks to now (``nats://host:port``)."""
        url = self._nc.connected_url if self._nc is not None else None
        return f"nats://{url.hostname}:{url.port}" if url is not None else None

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def _disconnected(self) -> None:
        if self._closing:
            return
        self.connected = False
        self._told(LinkLost())

    async def _reconnected(self) -> None:
        self.connected = True
        self._told(LinkBack())

    async def _error(self, exc: Exception) -> None:
        self._last_error = exc
        log.warning("NATS: %s", exc)

    # ---- the Bus protocol -----------------------------------------------------------------------

    def publish(self, subject: str, stamp: Stamp, done: Done) -> None:
        self._enqueue(subject, stamp, done, None)

    def forget(self, subject: str, done: Forgotten) -> None:
        """A tombstone replaces the subject's message in the stream (one per subject is kept),
        in turn with this hub's publications of it: every hub, and any started later, drops
        its latest, and the numbering goes on past it. (Purging the subject instead left the
        ordered consumer deaf to the subject's later messages, nats-server 2.10.)"""

        def forgotten(result: Message | Exception) -> None:
            done(result if isinstance(result, Exception) else None)

        self._enqueue(subject, None, forgotten, None)

    def _enqueue(self, subject: str, stamp: Stamp | None, done: Done, seq: int | None) -> None:
        state = self._subject(subject)
        state.queue.append((stamp, done, seq))
        if len(state.queue) == 1:  # otherwise the running drain takes it in turn
            task = asyncio.get_running_loop().create_task(self._drain(subject, state))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, subject: str, state: _Subject) -> None:
        """This hub's publications of one subject, one at a time (each needs the last's seq)."""
        while state.queue:
            stamp, done, fixed = state.queue[0]
            try:
                result: Message | Exception = await self._publish_one(subject, state, stamp, fixed)
            except Exception as exc:  # everything the client library raises, reported
                result = exc if isinstance(exc, BusError) else BusError(f"NATS: {exc!r}")
            state.queue.popleft()
            done(result)

    async def _publish_one(
        self, subject: str, state: _Subject, stamp: Stamp | None, fixed: int | None
    ) -> Message:
        """One message, or a tombstone (no ``stamp``)."""
        while True:
            expected = state.stream_seq
            last = state.latest.seq if state.latest else state.forgotten_seq
            seq = fixed if fixed is not None else last + 1
            value, line = stamp(seq) if stamp is not None else (None, b"")
            msg_id = f"{self.name}.{subject}.{seq}.{expected}"
            message = self._pending[msg_id] = Message(subject, seq, value, line)
            headers = {
                "Nats-Msg-Id": msg_id,
                "Nats-Expected-Last-Subject-Sequence": str(expected),
                SEQ_HEADER: str(seq),
            }
            if stamp is None:
                headers[TOMBSTONE_HEADER] = "1"
            try:
                ack = await self._js.publish(PREFIX + token(subject), line, headers=headers)
            except APIError as exc:
                self._pending.pop(msg_id, None)
                if exc.err_code != WRONG_LAST_SEQUENCE:
                    raise BusError(f"NATS refused the message: {exc.description}") from exc
                if fixed is not None:  # a restore another hub beat: the stream's is newer
                    raise BusError(f"{subject} is already in the stream") from exc
                await self._changed(state, expected)  # another hub's message: propose again
                continue
            except BaseException:
                self._pending.pop(msg_id, None)
                raise
            await self._arrived_here(state, ack.seq)
            self._pending.pop(msg_id, None)
            latest = state.latest
            return latest if latest is not None and state.stream_seq == ack.seq else message

    async def _changed(self, state: _Subject, beyond: int) -> None:
        async with asyncio.timeout(self._timeout):
            while state.stream_seq <= beyond:
                await state.changed.wait()

    async def _arrived_here(self, state: _Subject, stream_seq: int) -> None:
        try:
            await self._changed(state, stream_seq - 1)
        except TimeoutError as exc:
            raise BusError("NATS stored the message but did not deliver it back") from exc

    async def _arrived(self, msg: Msg) -> None:
        """The ordered consumer: every stored message of every subject, in stream order."""
        meta = msg.metadata
        subject = untoken(msg.subject[len(PREFIX) :])
        headers = msg.headers or {}
        tombstone = TOMBSTONE_HEADER in headers
        state = self._subjects.get(subject)
        if state is None:
            state = self._subject(subject)
            if not tombstone:
                self._told(SubjectSeen(subject))
        stream_seq = meta.sequence.stream
        if stream_seq > state.stream_seq and tombstone:
            state.latest = None
            state.forgotten_seq = int(headers.get(SEQ_HEADER, "0"))
            state.stream_seq = stream_seq
            state.changed.set()
            state.changed = asyncio.Event()
        elif stream_seq > state.stream_seq:
            message = self._pending.get(headers.get("Nats-Msg-Id", ""))
            if message is None:
                message = self._decoded(subject, headers, msg.data)
            if message is not None:
                state.latest = message
                self._fan_out(state, message)
            state.stream_seq = stream_seq
            state.changed.set()
            state.changed = asyncio.Event()
        if meta.num_pending == 0:
            self._caught_up.set()

    def _decoded(self, subject: str, headers: dict[str, str], line: bytes) -> Message | None:
        """Another hub's message, or None (logged) when it cannot be read: one bad message
        must not stop the stream for every subject."""
        try:
            value = self._decode(subject, line)
            return Message(subject, int(headers.get(SEQ_HEADER, "0")), value, line)
        except Exception as exc:  # whatever the decoder raises: the message is skipped
            log.error("bus message of %s from another hub skipped: %s", subject, exc)
            return None

    def broadcast(self, kind: str, payload: bytes) -> None:
        """Core NATS, not the stream: events are for the hubs up now (at most once)."""
        self._send(EVENTS + kind, payload)

    def tell(self, hub: str, kind: str, payload: bytes) -> None:
        self._send(f"{TOLD}{token(hub)}.{kind}", payload)

    def _send(self, subject: str, payload: bytes) -> None:
        if self._nc is None or not self.connected:
            return
        self._outbox.append((subject, payload))
        if len(self._outbox) == 1:  # else the running drain sends it, in order
            task = asyncio.get_running_loop().create_task(self._send_outbox())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_outbox(self) -> None:
        headers = {"Tw-Hub": self.name}
        while self._outbox:
            subject, payload = self._outbox[0]
            with contextlib.suppress(nats.errors.Error):
                await self._nc.publish(subject, payload, headers=headers)
            self._outbox.popleft()

    def on_event(self, kind: str, handler: Callable[[bytes], None]) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    async def _event(self, msg: Msg) -> None:
        if (msg.headers or {}).get("Tw-Hub") == self.name:
            return  # our own
        for handler in self._handlers.get(msg.subject.rsplit(".", 1)[1], ()):
            handler(msg.data)

    def restore(self, messages: Iterable[Message]) -> None:
        """Messages kept by a hub before it used NATS: each subject the stream does not have yet
        is published with its number, so numbering continues after it on every hub."""
        for message in messages:
            state = self._subject(message.subject)
            if state.latest is None:
                state.latest = message
                self._enqueue(message.subject, _as_stamped(message), _restored, message.seq)


def _as_stamped(message: Message) -> Stamp:
    def stamped(_seq: int) -> tuple[Any, bytes]:
        return message.value, message.line

    return stamped


def _restored(result: Message | Exception) -> None:
    if isinstance(result, Exception):
        log.warning("restoring a subject into NATS: %s", result)
