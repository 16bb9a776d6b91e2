"""A what-if replay as one self-contained HTML page (``tradewire channel simulate --html``):
the simulated account's growth beside the provider's, its figures, its deals and its skips.
No script, no fetch: an SVG chart and tables that open anywhere. Pure."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

from tradewire.protocol.frames.history import CurvePoint, Simulation

WIDTH, HEIGHT, PAD = 860, 300, 40


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _growth(curve: Sequence[CurvePoint], base: float) -> list[tuple[int, float]]:
    """Equity as % of ``base``: the provider's and the copy's deposits differ."""
    return [(p.ts, 100 * (p.equity / base - 1)) for p in curve] if base > 0 else []


def _chart(lines: list[tuple[str, str, list[tuple[int, float]]]]) -> str:
    points = [p for _, _, line in lines for p in line]
    if not points:
        return "<p>No curve.</p>"
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    low, high = min(0.0, *(p[1] for p in points)), max(0.0, *(p[1] for p in points))
    span_t, span_v = max(t1 - t0, 1), max(high - low, 1e-9)

    def xy(ts: int, value: float) -> str:
        x = PAD + (WIDTH - 2 * PAD) * (ts - t0) / span_t
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / span_v
        return f"{x:.1f},{y:.1f}"

    zero = xy(t0, 0.0).split(",")[1]
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img"'
        ' aria-label="growth in %">',
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{zero}" y2="{zero}" stroke="#bbb"/>',
        f'<text x="4" y="{PAD}" font-size="11">{high:+.1f}%</text>',
        f'<text x="4" y="{HEIGHT - PAD}" font-size="11">{low:+.1f}%</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{_utc(t0)} UTC</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
        f"{_utc(t1)} UTC</text>",
    ]
    for n, (name, color, line) in enumerate(lines):
        path = " ".join(xy(ts, v) for ts, v in line)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        parts.append(
            f'<text x="{PAD + 10}" y="{PAD - 20 + 14 * n}" font-size="12" fill="{color}">'
            f"{html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _shown(total: int, shown: int) -> str:
    return f" in all, the first {shown} shown" if total > shown else ""


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def render(result: Simulation, figures: Sequence[tuple[str, str]]) -> str:
    """The page. ``figures``: the simulated account's figures as the CLI prints them."""
    provider = result.provider_curve
    chart = _chart(
        [
            ("the provider (equity, % of its first)", "#888", _growth(provider, provider[0].equity))
            if provider
            else ("the provider", "#888", []),
            (
                "your simulated account (equity, % of the deposit)",
                "#1565c0",
                _growth(result.stats.curve, result.deposit),
            ),
        ]
    )
    fills = [
        (_utc(f.ts), f.symbol, f.side, f"{f.volume:g}", f"{f.price:g}", f.entry, f"{f.profit:.2f}")
        for f in result.fills
    ]
    skips = [(_utc(s.ts), s.symbol, s.reason) for s in result.skips]
    shares = result.price_time_pct or {}
    prices = ", ".join(f"{k} {v:g}%" for k, v in shares.items() if v) or ", ".join(
        f"{k}: {v} quotes" for k, v in result.prices.items() if v
    )
    title = f"What following {result.ch} would have done"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:{WIDTH + 40}px}}
table{{border-collapse:collapse;margin:8px 0 20px}}td,th{{padding:3px 10px;text-align:left;
border-bottom:1px solid #eee}}th{{background:#f5f5f5}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>A {html.escape(result.mode)} paper account of {result.deposit:,.2f} USD, replayed over
{result.moments} kept moments: it ends with balance {result.balance:,.2f} and equity
{result.equity:,.2f}. Prices by source, as shares of the period: {html.escape(prices)}
(docs/simulate.md).</p>
{chart}
<h2>Figures of the simulated account</h2>
{_table(("figure", "value"), figures)}
<h2>Deals ({result.fills_total}{_shown(result.fills_total, len(fills))})</h2>
{_table(("time (UTC)", "symbol", "side", "volume", "price", "entry", "profit"), fills)}
<h2>Skips and refusals ({result.skips_total})</h2>
{_table(("time (UTC)", "symbol", "reason"), skips)}
</body></html>
"""
