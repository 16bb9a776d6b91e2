"""The bus contract (tradewire.bus.base), for every bus: each runs ``CHECKS`` with its own
``make_bus`` (an async factory of a started bus, with ``decode_text`` where the bus decodes what
another hub published); a bus that takes the hub's persist hook also runs ``PERSIST_CHECKS``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tradewire.bus.base import Bus, Message

MakeBus = Callable[..., Awaitable[Bus]]  # await make_bus(persist=None | callable)


class Recorder:
    def __init__(self) -> None:
        self.got: list[Message] = []

    def deliver(self, message: Message) -> None:
        self.got.append(message)


def stamp_text(text: str) -> Callable[[int], tuple[Any, bytes]]:
    return lambda seq: ({"text": text, "seq": seq}, f"{seq}:{text}\n".encode())


def decode_text(subject: str, line: bytes) -> dict[str, Any]:
    """The value ``stamp_text`` gave, from its line (for a bus that decodes others' messages)."""
    seq, text = line.decode().rstrip("\n").split(":", 1)
    return {"text": text, "seq": int(seq)}


async def publish(bus: Bus, subject: str, text: str) -> Message | Exception:
    """Publish and wait until done (a second ``done`` would raise: it is called once)."""
    outcome: asyncio.Future[Message | Exception] = asyncio.get_running_loop().create_future()
    bus.publish(subject, stamp_text(text), outcome.set_result)
    return await asyncio.wait_for(outcome, 10)


async def check_one_authority_numbers_each_subject(make_bus: MakeBus) -> None:
    bus = await make_bus()
    seqs = [await publish(bus, "a", str(n)) for n in range(3)] + [await publish(bus, "b", "x")]
    assert [m.seq for m in seqs if isinstance(m, Message)] == [1, 2, 3, 1]


async def check_subscribers_get_the_latest_then_every_message_once_in_order(
    make_bus: MakeBus,
) -> None:
    bus = await make_bus()
    await publish(bus, "a", "before")
    early, late = Recorder(), Recorder()
    latest = bus.subscribe("a", early)
    assert latest is not None and latest.line == b"1:before\n" and latest.value["seq"] == 1
    for text in ("one", "two"):
        await publish(bus, "a", text)
    bus.subscribe("a", late)
    await publish(bus, "a", "three")
    await publish(bus, "other", "never")
    assert [m.line for m in early.got] == [b"2:one\n", b"3:two\n", b"4:three\n"]
    assert [m.seq for m in late.got] == [4]
    assert early.got[0] is not None and bus.subscribers("a") == 2
    bus.unsubscribe("a", early)
    await publish(bus, "a", "four")
    assert len(early.got) == 3 and len(late.got) == 2
    latest = bus.latest("a")
    assert latest is not None and latest.seq == 5 and latest.value == {"text": "four", "seq": 5}


async def check_nothing_is_delivered_before_it_is_durable(make_bus: MakeBus) -> None:
    pending: list[tuple[Message, Callable[[object], None]]] = []
    bus = await make_bus(persist=lambda message, stored: pending.append((message, stored)))
    subscriber = Recorder()
    bus.subscribe("a", subscriber)
    outcome: list[Message | Exception] = []
    bus.publish("a", stamp_text("x"), outcome.append)
    assert subscriber.got == [] and outcome == [] and bus.latest("a") is None
    message, stored = pending.pop()
    stored(None)
    assert subscriber.got == [message] and outcome == [message] and bus.latest("a") == message


async def check_a_failed_persist_delivers_nothing_and_never_reuses_its_seq(
    make_bus: MakeBus,
) -> None:
    failures = [OSError("disk full")]

    def persist(message: Message, stored: Callable[[object], None]) -> None:
        stored(failures.pop() if failures else None)

    bus = await make_bus(persist=persist)
    subscriber = Recorder()
    bus.subscribe("a", subscriber)
    failed = await publish(bus, "a", "lost")
    assert isinstance(failed, OSError) and subscriber.got == [] and bus.latest("a") is None
    ok = await publish(bus, "a", "kept")
    assert isinstance(ok, Message) and ok.seq == 2  # 1 named the failed message
    assert subscriber.got == [ok]


async def check_numbering_continues_after_a_restore(make_bus: MakeBus) -> None:
    bus = await make_bus()
    bus.restore([Message("a", 41, {"text": "old"}, b"41:old\n")])
    latest = bus.latest("a")
    assert latest is not None and latest.seq == 41
    message = await publish(bus, "a", "new")
    assert isinstance(message, Message) and message.seq == 42


async def forget(bus: Bus, subject: str) -> Exception | None:
    outcome: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
    bus.forget(subject, outcome.set_result)
    return await asyncio.wait_for(outcome, 10)


async def check_a_forgotten_subject_keeps_no_latest_and_takes_new_messages(
    make_bus: MakeBus,
) -> None:
    bus = await make_bus()
    watcher = Recorder()
    bus.subscribe("gone", watcher)
    await publish(bus, "gone", "one")
    await publish(bus, "kept", "two")
    assert await forget(bus, "gone") is None
    assert bus.latest("gone") is None and bus.latest("kept") is not None
    assert bus.subscribe("gone", Recorder()) is None  # a new subscriber gets nothing kept
    again = await publish(bus, "gone", "three")
    assert isinstance(again, Message) and bus.latest("gone") == again, (again, bus.latest("gone"))
    assert [m.value["text"] for m in watcher.got] == ["one", "three"]
    assert await forget(bus, "never-published") is None


CHECKS = [
    check_a_forgotten_subject_keeps_no_latest_and_takes_new_messages,
    check_one_authority_numbers_each_subject,
    check_subscribers_get_the_latest_then_every_message_once_in_order,
    check_numbering_continues_after_a_restore,
]
PERSIST_CHECKS = [
    check_nothing_is_delivered_before_it_is_durable,
    check_a_failed_persist_delivers_nothing_and_never_reuses_its_seq,
]
