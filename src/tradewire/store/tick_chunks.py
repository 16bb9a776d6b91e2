"""How the SQLite tick store packs ticks: one ``tick_chunks`` row per symbol of a stored batch,
its columns as little-endian arrays (int64 times, float64 prices, NaN for a missing ask, last
or volume), sorted by time within the chunk (stably: ticks of one time keep their order).

Reading merges the chunks of a symbol by time; chunks may overlap in time (two feeds of one
symbol), so a tick is given out only once no chunk not yet opened can hold an earlier one:
memory stays at the chunks that overlap, whatever the size of the store.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from collections.abc import Iterable, Iterator

from tradewire.protocol.tick_columns import TickColumns
from tradewire.protocol.ticks import TickRow

CHUNK_COLUMNS = "rowid, first_ms, n, time_ms, bid, ask, last, volume"
CHUNK_INSERT = "INSERT INTO tick_chunks VALUES (?,?,?,?,?,?,?,?,?)"
_SWAP = sys.byteorder != "little"  # the file's arrays are little-endian on every machine

Chunk = tuple[str, int, int, int, bytes, bytes, bytes, bytes | None, bytes | None]


def _packed(kind: str, values: list[int] | list[float]) -> bytes:
    packed = array(kind, values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def _unpacked(kind: str, blob: bytes | None) -> array[float] | array[int] | None:
    if blob is None:
        return None
    values = array(kind)
    values.frombytes(blob)
    if _SWAP:
        values.byteswap()
    return values


def chunks(ticks: TickColumns) -> Iterator[Chunk]:
    """The ``tick_chunks`` rows of a batch: one per symbol."""
    for symbol, part in ticks.by_symbol():
        times = part.time_ms
        columns = [part.bid, part.ask, part.last, part.volume]
        if times != sorted(times):  # rare: ticks out of order within a batch
            order = sorted(range(len(times)), key=times.__getitem__)
            times = [times[i] for i in order]
            columns = [None if c is None else [c[i] for i in order] for c in columns]
        bid, ask, last, volume = columns
        assert bid is not None and ask is not None
        yield (
            symbol,
            times[0],
            times[-1],
            len(times),
            _packed("q", times),
            _packed("d", bid),
            _packed("d", ask),
            None if last is None else _packed("d", last),
            None if volume is None else _packed("d", volume),
        )


def _rows(symbol: str, chunk: tuple[object, ...], from_ms: int, to_ms: int) -> Iterator[TickRow]:
    _, _, n, *blobs = chunk
    times = _unpacked("q", blobs[0])  # type: ignore[arg-type]
    bid, ask, last, volume = (_unpacked("d", blob) for blob in blobs[1:])  # type: ignore[arg-type]
    assert times is not None and bid is not None and ask is not None
    for i in range(int(n)):  # type: ignore[call-overload]
        t = times[i]
        if from_ms <= t < to_ms:
            a = ask[i]
            lst = None if last is None or last[i] != last[i] else last[i]
            vol = None if volume is None or volume[i] != volume[i] else volume[i]
            yield symbol, int(t), bid[i], None if a != a else a, lst, vol


def merged(
    symbol: str, found: Iterable[tuple[object, ...]], from_ms: int, to_ms: int
) -> Iterator[TickRow]:
    """The ticks of ``found`` (chunks of one symbol by first time, then rowid) in
    ``[from_ms, to_ms)``, ordered by time, then storing order."""
    heap: list[tuple[int, int, int, TickRow]] = []
    for chunk in found:
        first = int(chunk[1])  # type: ignore[call-overload]
        while heap and heap[0][0] < first:  # no later chunk holds anything earlier
            yield heapq.heappop(heap)[3]
        rowid = int(chunk[0])  # type: ignore[call-overload]
        for i, row in enumerate(_rows(symbol, chunk, from_ms, to_ms)):
            heapq.heappush(heap, (row[1], rowid, i, row))
    while heap:
        yield heapq.heappop(heap)[3]
