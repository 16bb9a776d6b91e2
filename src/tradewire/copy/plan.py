"""``plan``: what the follower account should hold, given the provider's state and the rules.

Keys identify target positions: on a netting follower the follower symbol; on a hedging
follower ``p<id>`` (one per provider position, hedging provider) or ``s<symbol>`` (one per
symbol, netting provider). Hedging follower positions carry the link in their comment as
``tw:<key>:<provider volume at open>:<follower volume at open>``, so the link survives restarts
(the broker stores it) and a linked position is sized once, when it opens, then follows the
provider's partial closes in proportion, without drifting with the accounts' balances.
"""

from __future__ import annotations

import functools

import msgspec

from tradewire.copy.holdings import Holding, own_by_symbol
from tradewire.copy.mapping import map_symbol
from tradewire.copy.rules import CopyRules
from tradewire.copy.sizing import floor_to_step, limit, raw_volume, round_to_step
from tradewire.copy.stops import Stops, target_stops
from tradewire.model import Account, Position, Quote, Side, SymbolSpec

TAG = "tw:"
MAX_COMMENT = 31  # MT5's limit on an order comment
# A MetaTrader 5 bridge appends "~" and a 6-character request id to the comment of every order
# (protocol/bridge.py), so links keep within what is left.
MAX_LINK = MAX_COMMENT - 7


class ProviderState(msgspec.Struct, frozen=True):
    account: Account
    positions: list[Position]
    ts: int
    seq: int = 0


class FollowerView(msgspec.Struct, frozen=True):
    """The follower account as read from its broker just now."""

    account: Account
    positions: list[Position]
    specs: dict[str, SymbolSpec | None]  # follower symbol -> spec (None: not offered)
    quotes: dict[str, Quote]
    # Netting: the follower's own volume in each symbol's position, from its deals
    # (copy/holdings.py). None: judged by the positions' magic alone.
    holdings: dict[str, Holding] | None = None


class TargetPosition(msgspec.Struct, frozen=True):
    key: str
    symbol: str
    side: Side
    volume: float
    ref_price: float  # the provider's entry price (deviation guard, slippage)
    comment: str = ""  # the link written on positions opened for this target
    stops: Stops = Stops()  # its stop-loss and take-profit (copy/stops.py)


class Link(msgspec.Struct, frozen=True):
    """What a hedging follower's position comment says about its link."""

    key: str
    provider_volume: float | None = None  # the provider's volume when the link opened
    follower_volume: float | None = None  # the follower's volume when it opened


@functools.lru_cache(maxsize=65_536)  # every round reads every comment: parse each once
def parse_link(comment: str) -> Link | None:
    """``tw:p9:1.5:0.75`` -> Link("p9", 1.5, 0.75); ``tw:p9`` -> Link("p9")."""
    if not comment.startswith(TAG):
        return None
    key, *volumes = comment[len(TAG) :].split(":")
    if len(volumes) == 2:
        try:
            pv, fv = float(volumes[0]), float(volumes[1])
        except ValueError:
            return Link(key)
        if pv > 0 and fv > 0:
            return Link(key, pv, fv)
    return Link(key)


def link_comment(key: str, provider_volume: float, follower_volume: float) -> str:
    full = f"{TAG}{key}:{provider_volume:g}:{follower_volume:g}"
    return full if len(full) <= MAX_LINK else f"{TAG}{key}"


class Skip(msgspec.Struct, frozen=True):
    symbol: str
    reason: str


class Plan(msgspec.Struct, frozen=True):
    target: dict[str, TargetPosition]
    skips: list[Skip]
    stopped: bool = False  # equity below stop_equity: everything copied is closed
    reduce_only: bool = False  # close_only or a stale signal


def managed(positions: list[Position], rules: CopyRules) -> list[Position]:
    """The follower positions tradewire manages (its magic number)."""
    return [p for p in positions if p.magic == rules.magic]


def key_of(position: Position, mode: str) -> str:
    if mode == "netting":
        return position.symbol
    link = parse_link(position.comment)
    # Ours by magic but unlinked: the key matches no target, so it will be closed.
    return link.key if link is not None else f"orphan{position.id}"


def groups(positions: list[Position], mode: str) -> dict[str, tuple[str, float]]:
    """Signed net volume per key of managed positions: key -> (symbol, net)."""
    out: dict[str, tuple[str, float]] = {}
    for p in positions:
        key = key_of(p, mode)
        signed = p.volume if p.side == "buy" else -p.volume
        out[key] = (p.symbol, round(out.get(key, (p.symbol, 0.0))[1] + signed, 8))
    return out


def held(follower: FollowerView, rules: CopyRules) -> dict[str, tuple[str, float]]:
    """What the follower holds per target key: key -> (symbol, signed volume)."""
    if follower.account.mode == "netting" and follower.holdings is not None:
        return {s: (s, v) for s, v in own_by_symbol(follower.holdings).items()}
    return groups(managed(follower.positions, rules), follower.account.mode)


def plan(state: ProviderState, follower: FollowerView, rules: CopyRules, now_ms: int) -> Plan:
    """The target of the follower account. Pure: same inputs, same plan."""
    ours = managed(follower.positions, rules)
    actual = held(follower, rules)
    if rules.stop_equity is not None and follower.account.equity < rules.stop_equity:
        return Plan(
            {},
            [
                Skip(
                    "*",
                    f"equity {follower.account.equity:.2f} below stop_equity "
                    f"{rules.stop_equity:.2f}: closing everything copied",
                )
            ],
            stopped=True,
        )
    links = (
        {key_of(p, "hedging"): parse_link(p.comment) for p in ours}
        if follower.account.mode == "hedging"
        else {}
    )
    desired, skips = _desired(state, follower, rules, links, actual)
    stale = bool(rules.max_signal_age_s) and now_ms - state.ts > rules.max_signal_age_s * 1000
    reduce_only = rules.close_only or stale
    if stale:
        skips.append(
            Skip(
                "*",
                f"signal is {(now_ms - state.ts) / 1000:.1f} s old (more than "
                f"max_signal_age_s = {rules.max_signal_age_s:g}): only reducing "
                "exposure until a fresh state arrives",
            )
        )
    target: dict[str, TargetPosition] = {}
    unsettled = _unsettled(follower)
    for key in desired.keys() | actual.keys():
        want = desired.get(key)
        have = actual.get(key, ("", 0.0))[1]
        if key in unsettled:
            skips.append(Skip(key, unsettled[key]))
            held_now = _hold(key, want, have)
            if held_now is not None:
                target[key] = held_now
            continue
        blocked = reduce_only
        if not blocked and want is not None and _adds(want, have):
            reason = _deviation(want, follower, rules)
            if reason:
                skips.append(Skip(want.symbol, reason))
                blocked = True
        kept = _reduce_only(want, have) if blocked else want
        if kept is not None:
            target[key] = kept
    return Plan(target, skips, reduce_only=reduce_only)


def _desired(
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    links: dict[str, Link | None],
    actual: dict[str, tuple[str, float]],
) -> tuple[dict[str, TargetPosition], list[Skip]]:
    skips: list[Skip] = []
    per_key: dict[str, list[tuple[Position, str]]] = {}
    for pos in sorted(state.positions, key=lambda p: (p.time, p.id)):
        symbol, reason = map_symbol(pos.symbol, rules)
        if symbol is None:
            skips.append(Skip(pos.symbol, reason))
            continue
        if follower.specs.get(symbol) is None:
            skips.append(Skip(pos.symbol, f"{symbol} is not offered by the follower's broker"))
            continue
        if follower.account.mode == "netting":
            key = symbol
        else:
            key = f"p{pos.id}" if state.account.mode == "hedging" else f"s{pos.symbol}"
        per_key.setdefault(key, []).append((pos, symbol))
    desired: dict[str, TargetPosition] = {}
    totals: dict[str, float] = {}
    for key, members in per_key.items():
        symbol = members[0][1]
        spec = follower.specs[symbol]
        assert spec is not None
        net = sum(p.volume if p.side == "buy" else -p.volume for p, _ in members)
        if abs(net) < 1e-9:
            continue
        side: Side = "buy" if net > 0 else "sell"
        same = [p for p, _ in members if p.side == side]
        ref = sum(p.price * p.volume for p in same) / sum(p.volume for p in same)
        if rules.reverse:
            side = "sell" if side == "buy" else "buy"
        link = links.get(key)
        held = actual.get(key, ("", 0.0))[1]
        held_side = "buy" if held > 0 else "sell" if held < 0 else None
        if link is not None and link.provider_volume and link.follower_volume and held_side == side:
            # Sized when it opened; since then it follows the provider in proportion.
            raw = link.follower_volume * abs(net) / link.provider_volume
            comment = link_comment(key, link.provider_volume, link.follower_volume)
        else:
            raw = raw_volume(abs(net), state.account, follower.account, rules)
            comment = ""
        volume, reason = limit(round_to_step(raw, spec), spec, rules)
        if rules.max_total_volume is not None and volume:
            room = floor_to_step(rules.max_total_volume - totals.get(symbol, 0.0), spec)
            if volume > room:
                volume, reason = limit(room, spec, rules)
                reason = reason or ""
                if not volume:
                    reason = f"max_total_volume {rules.max_total_volume:g} reached on {symbol}"
        if not volume:
            skips.append(Skip(members[0][0].symbol, reason))
            continue
        totals[symbol] = totals.get(symbol, 0.0) + volume
        if follower.account.mode == "hedging" and not comment:
            comment = link_comment(key, abs(net), volume)
        stops = target_stops(same, rules, spec)
        desired[key] = TargetPosition(key, symbol, side, volume, ref, comment, stops)
    return desired, skips


def _adds(want: TargetPosition, have: float) -> bool:
    """True when reaching ``want`` adds exposure (opens, grows or flips)."""
    signed = want.volume if want.side == "buy" else -want.volume
    return abs(signed) > abs(have) + 1e-9 or signed * have < 0


def _deviation(want: TargetPosition, follower: FollowerView, rules: CopyRules) -> str:
    if rules.max_deviation_points is None:
        return ""
    spec, quote = follower.specs.get(want.symbol), follower.quotes.get(want.symbol)
    if spec is None or quote is None:
        return f"no quote for {want.symbol}"
    price = quote.ask if want.side == "buy" else quote.bid
    worse = (price - want.ref_price) if want.side == "buy" else (want.ref_price - price)
    points = worse / spec.point
    if points > rules.max_deviation_points:
        return (
            f"{want.symbol} price {price} is {points:.0f} points worse than the provider's "
            f"{want.ref_price} (max_deviation_points {rules.max_deviation_points:g})"
        )
    return ""


def _unsettled(follower: FollowerView) -> dict[str, str]:
    """Netting symbols whose own volume cannot be trusted yet, with why."""
    if follower.account.mode != "netting" or follower.holdings is None:
        return {}
    return {
        s: f"the deals of {s} position {h.position_id} do not add up to its volume "
        f"{h.net:+g} yet: waiting for the broker's history before trading {s}"
        for s, h in follower.holdings.items()
        if not h.settled
    }


def _hold(key: str, want: TargetPosition | None, have: float) -> TargetPosition | None:
    """A target that keeps exactly what is held (no order either way)."""
    if abs(have) < 1e-9:
        return None
    side: Side = "buy" if have > 0 else "sell"
    if want is None:
        return TargetPosition(key, key, side, round(abs(have), 8), 0.0)
    return msgspec.structs.replace(want, side=side, volume=round(abs(have), 8))


def _reduce_only(want: TargetPosition | None, have: float) -> TargetPosition | None:
    """The target when exposure may only shrink: keep, shrink or close what is held."""
    if abs(have) < 1e-9:
        return None
    held_side: Side = "buy" if have > 0 else "sell"
    if want is None or want.side != held_side:
        return None  # close; never open the other way
    if want.volume <= abs(have) + 1e-9:
        return want
    return msgspec.structs.replace(want, volume=round(abs(have), 8))
