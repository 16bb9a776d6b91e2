"""The crowd's positions per symbol: one contribution per contributor and symbol (the latest
counts), each lapsing at its expiry; aggregates as community-outlook services show them.
Pure: the caller passes the time; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass

from tradewire.protocol.messages import Position, SentimentRow


@dataclass(frozen=True, slots=True)
class Contribution:
    long: float
    short: float
    long_n: int
    short_n: int
    long_price: float  # volume-weighted entry of the long side
    short_price: float
    expires: float  # monotonic seconds


def from_positions(positions: list[Position], expires: float) -> dict[str, Contribution]:
    """A provider's published positions as contributions, one per symbol."""
    sides: dict[str, list[float]] = {}  # symbol -> [long, long*price, long_n, short, ...]
    for p in positions:
        acc = sides.setdefault(p.symbol, [0.0] * 6)
        at = 0 if p.side == "buy" else 3
        acc[at] += p.volume
        acc[at + 1] += p.volume * p.price
        acc[at + 2] += 1
    return {
        symbol: Contribution(
            round(a[0], 8),
            round(a[3], 8),
            int(a[2]),
            int(a[5]),
            a[1] / a[0] if a[0] else 0.0,
            a[4] / a[3] if a[3] else 0.0,
            expires,
        )
        for symbol, a in sides.items()
    }


def _vwap(sides: list[tuple[float, float]]) -> float:
    """Volume-weighted price over the contributions that gave one (the article's clients
    send volumes only)."""
    priced = [(volume, price) for volume, price in sides if volume > 0 and price > 0]
    volume = sum(v for v, _ in priced)
    return round(sum(v * p for v, p in priced) / volume, 8) if volume else 0.0


class SentimentBook:
    def __init__(self, min_contributors: int) -> None:
        self.min_contributors = min_contributors
        self._by_symbol: dict[str, dict[str, Contribution]] = {}
        self._by_contributor: dict[str, set[str]] = {}  # the same, indexed the other way
        self._published: set[str] = set()  # symbols subscribers currently see figures for
        self.dirty: set[str] = set()  # symbols whose figures may have changed

    def put(self, contributor: str, symbol: str, contribution: Contribution) -> None:
        self._by_symbol.setdefault(symbol, {})[contributor] = contribution
        self._by_contributor.setdefault(contributor, set()).add(symbol)
        self.dirty.add(symbol)

    def symbols_of(self, contributor: str) -> list[str]:
        return sorted(self._by_contributor.get(contributor, ()))

    def drop(self, contributor: str, symbols: list[str] | None = None) -> None:
        """Forget ``contributor``'s contributions (to ``symbols``, or all)."""
        for symbol in symbols if symbols is not None else self.symbols_of(contributor):
            book = self._by_symbol.get(symbol)
            if book is not None and book.pop(contributor, None) is not None:
                self.dirty.add(symbol)
                if not book:
                    del self._by_symbol[symbol]
                held = self._by_contributor[contributor]
                held.discard(symbol)
                if not held:
                    del self._by_contributor[contributor]

    def expire(self, now: float) -> None:
        for symbol, book in list(self._by_symbol.items()):
            for contributor in [c for c, v in book.items() if v.expires <= now]:
                self.drop(contributor, [symbol])

    def row(self, symbol: str) -> SentimentRow | None:
        """The aggregate of ``symbol``, or ``None`` below the minimum of contributors.

        Only contributors with exposure count, and only they are summed: two accounts that
        contribute nothing must not make a third one's exact volume and price visible."""
        book = {
            who: c
            for who, c in self._by_symbol.get(symbol, {}).items()
            if c.long > 0 or c.short > 0
        }
        if len(book) < self.min_contributors:
            return None
        long = sum(c.long for c in book.values())
        short = sum(c.short for c in book.values())
        total = long + short
        return SentimentRow(
            symbol,
            long_volume=round(long, 8),
            short_volume=round(short, 8),
            long_pct=round(100 * long / total, 2) if total else 0.0,
            short_pct=round(100 * short / total, 2) if total else 0.0,
            long_positions=sum(c.long_n for c in book.values()),
            short_positions=sum(c.short_n for c in book.values()),
            contributors=len(book),
            long_price=_vwap([(c.long, c.long_price) for c in book.values()]),
            short_price=_vwap([(c.short, c.short_price) for c in book.values()]),
        )

    def visible(self) -> list[SentimentRow]:
        """Every symbol that meets the minimum now."""
        return [row for s in sorted(self._by_symbol) if (row := self.row(s)) is not None]

    def changes(self) -> list[SentimentRow]:
        """What changed since the last call: new figures, and ``withheld`` for symbols that
        fell below the minimum (so that subscribers drop what they had)."""
        out: list[SentimentRow] = []
        for symbol in sorted(self.dirty):
            row = self.row(symbol)
            if row is not None:
                out.append(row)
                self._published.add(symbol)
            elif symbol in self._published:
                out.append(SentimentRow(symbol, withheld=True))
                self._published.discard(symbol)
        self.dirty.clear()
        return out
