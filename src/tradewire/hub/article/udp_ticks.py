"""The article's UDP tick collector, made real (PROTOCOL.md section 2, port 8082, opt-in).

asyncio's datagram endpoint costs a callback per datagram and drops under load, so a dedicated
thread receives on a socket with a large receive buffer, up to 256 datagrams per system call
(udp_batch.py), parses, and hands rows to the tick writer in batches. Datagrams the kernel
dropped are read from /proc/net/udp; malformed ones are counted by reason and dropped.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

from tradewire.config import TickListenerSettings
from tradewire.hub.addresses import AddressList
from tradewire.hub.article.udp_batch import BatchReceiver
from tradewire.hub.services.ticks.service import ListenerCounters
from tradewire.protocol.ticks import TickError, TickRow, parse_text
from tradewire.store.tick_writer import TickWriter

log = logging.getLogger(__name__)

RCVBUF = 32 * 1024 * 1024
SO_RCVBUFFORCE = 33  # Linux: lets root exceed net.core.rmem_max
FLUSH_ROWS = 2_000
FLUSH_S = 0.002


def kernel_drops(port: int, family: int = socket.AF_INET) -> int:
    """The drops column of /proc/net/udp for the socket bound to ``port``."""
    path = Path("/proc/net/udp" if family == socket.AF_INET else "/proc/net/udp6")
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return 0
    total = 0
    for line in lines:
        fields = line.split()
        if len(fields) >= 13 and int(fields[1].rsplit(":", 1)[1], 16) == port:
            total += int(fields[-1])
    return total


class UdpTickListener:
    """Receives tick datagrams on its own thread."""

    def __init__(self, settings: TickListenerSettings, writer: TickWriter) -> None:
        self.settings = settings
        self._writer = writer
        self._allow = AddressList(settings.allow)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self._sock.bind((settings.host, settings.port))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._final_drops: int | None = None  # read before the socket (and its row) goes
        self.counters = ListenerCounters("udp", self._kernel_drops)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tw-udp", daemon=True)

    def start(self) -> tuple[str, int]:
        self._thread.start()
        log.info("UDP tick listener on %s:%d", self.settings.host, self.port)
        return self.settings.host, self.port

    def _kernel_drops(self) -> int:
        return self._final_drops if self._final_drops is not None else kernel_drops(self.port)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._final_drops = kernel_drops(self.port)
        self._sock.close()

    def _run(self) -> None:
        rows: list[TickRow] = []
        counters = self.counters
        receiver = BatchReceiver(self._sock)
        allowed: dict[bytes, bool] = {}  # sender address -> in the allow list (a few senders)
        last_flush = time.monotonic()
        while not self._stop.is_set():
            try:
                got = receiver.receive(0.05)
            except OSError:
                break
            if got:
                counters.received += len(got)
                now_ms = int(time.time() * 1000)
                for data, address in got:
                    ok = allowed.get(address)
                    if ok is None:
                        ok = allowed[address] = socket.inet_ntoa(address) in self._allow
                        if len(allowed) > 10_000:
                            allowed.clear()
                    if not ok:
                        counters.bad("address not allowed")
                        continue
                    try:
                        rows.append(parse_text(data, now_ms))
                    except TickError as exc:
                        counters.bad(exc.reason)
            now = time.monotonic()
            if rows and (len(rows) >= FLUSH_ROWS or now - last_flush >= FLUSH_S or not got):
                self._writer.put(rows)
                rows = []
                last_flush = now
        if rows:
            self._writer.put(rows)
