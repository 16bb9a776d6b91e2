"""The bus contract (tradewire.bus.base), for every bus: a new one (NATS, say) runs these
against itself with its own ``make_bus`` fixture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradewire.bus.base import Bus, Message

MakeBus = Callable[..., Bus]  # make_bus(persist=None | callable)


class Recorder:
    def __init__(self) -> None:
        self.got: list[Message] = []

    def deliver(self, message: Message) -> None:
        self.got.append(message)


def stamp_text(text: str) -> Callable[[int], tuple[Any, bytes]]:
    return lambda seq: ({"text": text, "seq": seq}, f"{seq}:{text}\n".encode())


def publish(bus: Bus, subject: str, text: str) -> Message | Exception:
    outcome: list[Message | Exception] = []
    bus.publish(subject, stamp_text(text), outcome.append)
    assert len(outcome) == 1, "a synchronous persist must complete the publication"
    return outcome[0]


def check_one_authority_numbers_each_subject(make_bus: MakeBus) -> None:
    bus = make_bus()
    seqs = [publish(bus, "a", str(n)) for n in range(3)] + [publish(bus, "b", "x")]
    assert [m.seq for m in seqs if isinstance(m, Message)] == [1, 2, 3, 1]


def check_subscribers_get_the_latest_then_every_message_once_in_order(make_bus: MakeBus) -> None:
    bus = make_bus()
    publish(bus, "a", "before")
    early, late = Recorder(), Recorder()
    latest = bus.subscribe("a", early)
    assert latest is not None and latest.line == b"1:before\n" and latest.value["seq"] == 1
    for text in ("one", "two"):
        publish(bus, "a", text)
    bus.subscribe("a", late)
    publish(bus, "a", "three")
    publish(bus, "other", "never")
    assert [m.line for m in early.got] == [b"2:one\n", b"3:two\n", b"4:three\n"]
    assert [m.seq for m in late.got] == [4]
    assert early.got[0] is not None and bus.subscribers("a") == 2
    bus.unsubscribe("a", early)
    publish(bus, "a", "four")
    assert len(early.got) == 3 and len(late.got) == 2
    latest = bus.latest("a")
    assert latest is not None and latest.seq == 5 and latest.value == {"text": "four", "seq": 5}


def check_nothing_is_delivered_before_it_is_durable(make_bus: MakeBus) -> None:
    pending: list[tuple[Message, Callable[[object], None]]] = []
    bus = make_bus(persist=lambda message, stored: pending.append((message, stored)))
    subscriber = Recorder()
    bus.subscribe("a", subscriber)
    outcome: list[Message | Exception] = []
    bus.publish("a", stamp_text("x"), outcome.append)
    assert subscriber.got == [] and outcome == [] and bus.latest("a") is None
    message, stored = pending.pop()
    stored(None)
    assert subscriber.got == [message] and outcome == [message] and bus.latest("a") == message


def check_a_failed_persist_delivers_nothing_and_never_reuses_its_seq(make_bus: MakeBus) -> None:
    failures = [OSError("disk full")]

    def persist(message: Message, stored: Callable[[object], None]) -> None:
        stored(failures.pop() if failures else None)

    bus = make_bus(persist=persist)
    subscriber = Recorder()
    bus.subscribe("a", subscriber)
    failed = publish(bus, "a", "lost")
    assert isinstance(failed, OSError) and subscriber.got == [] and bus.latest("a") is None
    ok = publish(bus, "a", "kept")
    assert isinstance(ok, Message) and ok.seq == 2  # 1 named the failed message
    assert subscriber.got == [ok]


def check_numbering_continues_after_a_restore(make_bus: MakeBus) -> None:
    bus = make_bus()
    bus.restore([Message("a", 41, {"text": "old"}, b"41:old\n")])
    latest = bus.latest("a")
    assert latest is not None and latest.seq == 41
    message = publish(bus, "a", "new")
    assert isinstance(message, Message) and message.seq == 42


CHECKS = [
    check_one_authority_numbers_each_subject,
    check_subscribers_get_the_latest_then_every_message_once_in_order,
    check_nothing_is_delivered_before_it_is_durable,
    check_a_failed_persist_delivers_nothing_and_never_reuses_its_seq,
    check_numbering_continues_after_a_restore,
]
