"""Fan-out on every core: one state written to many subscribers by several threads at once.

Writing a line to a TCP socket costs a system call, and on a host's own network most of the
receiver's work is done inside it: that, not Python, is where fan-out spends its time (about
7 µs per subscriber here). One event loop makes those calls one after another on one core. So
for a state with many subscribers the hub splits them into parts and writes the parts from a
pool of threads and the loop's own thread together; ``os.write`` releases the GIL for the
system call, so the parts run on separate cores. The loop waits for every part before it goes
on, so nothing else is written to these sockets meanwhile and each subscriber's bytes stay in
order.

Only a subscriber whose socket is plain TCP, logged in and with nothing queued is written to
directly (``direct_fd``); the rest, and whatever a full socket did not take, go through its
transport as before (its buffer, its backpressure, its conflation).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor

from tradewire.bus.base import Message, Subscriber

MIN_PER_THREAD = 64  # fewer subscribers than this per part: a thread hop costs more than it saves


# A subscriber that can be written to directly has two more methods (hub/connection.py):
# ``direct_fd()``, its socket now or -1 (TLS, a backlog, not logged in), and ``send_rest(rest)``,
# which queues what a direct write left over (the socket was full).
Leftover = list[tuple[int, int]]  # (index in the part, bytes written: -1 for an error)


def _write_part(fds: list[int], line: bytes) -> Leftover:
    leftover: Leftover = []
    size = len(line)
    for index, fd in enumerate(fds):
        try:
            written = os.write(fd, line)
        except BlockingIOError:
            written = 0
        except OSError:
            written = -1  # the transport finds out and closes it
        if written != size:
            leftover.append((index, written))
    return leftover


class ParallelFanOut:
    """Delivers a message to many subscribers from ``threads`` threads and the loop's."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, "tw-fanout") if threads > 0 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def deliver(self, subscribers: Collection[Subscriber], message: Message) -> None:
        parts = min(self.threads + 1, len(subscribers) // MIN_PER_THREAD)
        if self._pool is None or parts < 2:
            for subscriber in list(subscribers):
                subscriber.deliver(message)
            return
        direct: list[Callable[[bytes], None]] = []  # each direct subscriber's send_rest
        fds: list[int] = []
        for subscriber in list(subscribers):
            direct_fd = getattr(subscriber, "direct_fd", None)
            fd = direct_fd() if direct_fd is not None else -1
            if fd < 0:
                subscriber.deliver(message)
            else:
                direct.append(subscriber.send_rest)  # type: ignore[attr-defined]
                fds.append(fd)
        line = message.line
        size = -(-len(fds) // parts)
        starts = range(0, len(fds), size)
        futures = [self._pool.submit(_write_part, fds[at : at + size], line) for at in starts[1:]]
        results = [(0, _write_part(fds[:size], line))]
        results += [(at, future.result()) for at, future in zip(starts[1:], futures, strict=True)]
        for at, leftover in results:
            for index, written in leftover:
                direct[at + index](line[max(written, 0) :])
