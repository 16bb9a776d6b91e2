"""``plan``: what the follower account should hold, given the provider's state and the rules:
its positions (keys and links: copy/targets.py) and its pending orders (copy/pending.py)."""

from __future__ import annotations

import msgspec

from tradewire.copy import explain, money
from tradewire.copy.mapping import map_symbol
from tradewire.copy.pending import plan_orders
from tradewire.copy.provider_keys import provider_keys
from tradewire.copy.rules import CopyRules
from tradewire.copy.sizing import floor_to_step, limit, raw_volume, round_to_step
from tradewire.copy.stops import target_stops
from tradewire.copy.targets import (
    MAX_COMMENT,
    MAX_LINK,
    TAG,
    FollowerView,
    Link,
    Plan,
    ProviderState,
    Skip,
    TargetPosition,
    groups,
    held,
    key_of,
    link_comment,
    managed,
    parse_link,
)
from tradewire.model import Position, Side

__all__ = [
    "MAX_COMMENT",
    "MAX_LINK",
    "TAG",
    "FollowerView",
    "Link",
    "Plan",
    "ProviderState",
    "Skip",
    "TargetPosition",
    "groups",
    "held",
    "key_of",
    "link_comment",
    "managed",
    "parse_link",
    "plan",
]


def plan(
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    now_ms: int,
    notes: dict[str, str] | None = None,
) -> Plan:
    """The target of the follower account. Pure: same inputs, same plan. ``notes``: filled
    with why each key's target is what it is (copy/explain.py), when asked."""
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
            orders={} if state.orders is not None else None,
        )
    if rules.close_mode == "immediately":
        return Plan(
            {},
            [Skip("*", 'close_only = "immediately": closing everything copied')],
            reduce_only=True,
            orders={} if state.orders is not None else None,
        )
    links = (
        {key_of(p, "hedging"): parse_link(p.comment) for p in ours}
        if follower.account.mode == "hedging"
        else {}
    )
    desired, skips = _desired(state, follower, rules, links, actual, notes)
    stale = bool(rules.max_signal_age_s) and now_ms - state.ts > rules.max_signal_age_s * 1000
    reduce_only = bool(rules.close_mode) or stale
    # close_only = "by-symbol" still opens and adds in the symbols the follower holds now
    open_symbols = (
        {symbol for symbol, volume in actual.values() if abs(volume) > 1e-9}
        if rules.close_mode == "by-symbol" and not stale
        else set()
    )
    if stale:
        skips.append(
            Skip(
                "*",
                f"signal is {(now_ms - state.ts) / 1000:.1f} s old (more than "
                f"max_signal_age_s = {rules.max_signal_age_s:g}): only reducing "
                "exposure until a fresh state arrives",
                kind=f"stale:{state.seq}",
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
            _note(notes, key, held_now, "held as it is: the broker's deals are behind")
            continue
        blocked = "stale signal" if stale else ""
        if rules.close_mode and not (want is not None and want.symbol in open_symbols):
            blocked = f"close_only {rules.close_mode}"
        if not blocked and want is not None and _adds(want, have):
            reason = _deviation(want, follower, rules)
            if reason:
                skips.append(Skip(want.symbol, reason, kind="deviation"))
                blocked = "max_deviation_points"
        kept = _reduce_only(want, have) if blocked else want
        if kept is not None:
            target[key] = kept
        if kept != want:
            _note(notes, key, kept, f"only reducing: {blocked}")
        elif want is None:
            _note(notes, key, None, "the provider holds none")
    deltas = _netting_deltas(state, follower, rules, desired, actual)
    orders, order_skips = plan_orders(
        state, follower, rules, now_ms, reduce_only and not open_symbols, deltas, open_symbols
    )
    return Plan(target, skips + order_skips, reduce_only=reduce_only, orders=orders)


def _note(notes: dict[str, str] | None, key: str, kept: TargetPosition | None, why: str) -> None:
    """A guard changed the key's target: say to what, and why."""
    if notes is not None:
        held = 0.0 if kept is None else kept.volume if kept.side == "buy" else -kept.volume
        before = notes.get(key)
        notes[key] = f"{held:+g}: {why}" + (f" (sized: {before})" if before else "")


def _desired(
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    links: dict[str, Link | None],
    actual: dict[str, tuple[str, float]],
    notes: dict[str, str] | None = None,
) -> tuple[dict[str, TargetPosition], list[Skip]]:
    skips: list[Skip] = []
    provider = provider_keys(state, rules, follower.account.mode, follower.triggered)
    for pos, symbol, reason, _ in provider.entries:
        if symbol is None:
            skips.append(Skip(pos.symbol, reason))
        elif follower.specs.get(symbol) is None:
            skips.append(Skip(pos.symbol, f"{symbol} is not offered by the follower's broker"))
    desired: dict[str, TargetPosition] = {}
    totals: dict[str, float] = {}
    exposure = money.Exposure.of(follower) if rules.max_leverage is not None else None
    for key, total in provider.totals.items():
        symbol, named = total.symbol, total.named
        spec = follower.specs.get(symbol)
        net = total.net
        if spec is None or abs(net) < 1e-9:
            continue
        side: Side = total.side
        same, ref = total.same, total.ref
        if rules.reverse:
            side = "sell" if side == "buy" else "buy"
        stops = target_stops(same, rules, spec)
        link = links.get(key)
        held = actual.get(key, ("", 0.0))[1]
        held_side = "buy" if held > 0 else "sell" if held < 0 else None
        linked = bool(
            link is not None and link.provider_volume and link.follower_volume and held_side == side
        )
        formula, reason = "", ""
        if linked:
            assert link is not None and link.provider_volume and link.follower_volume
            # Sized when it opened; since then it follows the provider in proportion.
            raw = link.follower_volume * abs(net) / link.provider_volume
            comment = link_comment(key, link.provider_volume, link.follower_volume)
            formula = explain.linked(abs(net), link) if notes is not None else ""
        elif rules.sizing == "risk" and _proportional(follower, key, side, held):
            provider_lots, follower_lots = follower.sized[key]
            now = sum(p.volume for p in same)
            raw, comment = follower_lots * now / provider_lots, ""
            formula = (
                f"{follower_lots:g} × {now:g} / {provider_lots:g} (risk-sized before: the "
                f"provider's {provider_lots:g} lots were {follower_lots:g})"
            )
        elif rules.sizing == "risk":
            assert rules.risk_percent is not None  # CopyRules insists on it
            risked = money.risk_volume(
                symbol, spec, stops, side, ref, follower, rules, rules.risk_percent
            )
            raw, formula, reason, comment = (
                risked.lots,
                risked.formula + " (risk)",
                risked.reason,
                "",
            )
        else:
            raw = raw_volume(abs(net), state.account, follower.account, rules)
            comment = ""
            if notes is not None:
                formula = explain.sizing(abs(net), state.account, follower.account, rules)
        if reason:  # cannot be sized: what is held on that side stays, nothing is added
            kept = _hold(key, None, held) if held_side == side else None
            skips.append(Skip(named, reason))
            _note(notes, key, kept, reason)
            if kept is not None:
                desired[key] = msgspec.structs.replace(
                    kept, symbol=symbol, ref_price=ref, stops=stops, comment=comment
                )
            continue
        rounded = round_to_step(raw, spec)
        volume, reason = limit(rounded, spec, rules)
        why = (
            explain.volume(formula, raw, rounded, volume, spec, rules) if notes is not None else ""
        )
        if volume and rules.needs_rates:
            capped, steps, reason = money.capped(
                volume, held, side, symbol, spec, stops, ref, follower, rules, exposure
            )
            if capped != volume and capped:
                capped, reason = limit(capped, spec, rules)
            volume = capped
            why = why and " → ".join([why, *steps])
        if rules.max_total_volume is not None and volume:
            room = floor_to_step(rules.max_total_volume - totals.get(symbol, 0.0), spec)
            if volume > room:
                volume, reason = limit(room, spec, rules)
                reason = reason or ""
                if not volume:
                    reason = f"max_total_volume {rules.max_total_volume:g} reached on {symbol}"
                why = why and explain.total_cap(why, rules, room, volume)
        if not volume:
            skips.append(Skip(named, reason))
            if notes is not None:
                notes[key] = f"+0: {why} → {reason}"
            continue
        if notes is not None:
            notes[key] = explain.final(side, volume, why, rules.reverse)
        totals[symbol] = totals.get(symbol, 0.0) + volume
        if follower.account.mode == "hedging" and not comment:
            comment = link_comment(key, abs(net), volume)
        desired[key] = TargetPosition(
            key, symbol, side, volume, ref, comment, stops, total.ref_volume
        )
    return desired, skips


def _proportional(follower: FollowerView, key: str, side: str, held: float) -> bool:
    """A netting target sized by risk before, still held on its side: it follows the
    provider's volume from there rather than being sized again from the stop."""
    sized = follower.sized.get(key)
    holds = held > 1e-9 if side == "buy" else held < -1e-9
    return sized is not None and sized[0] > 0 and sized[1] > 0 and holds


def _netting_deltas(
    state: ProviderState,
    follower: FollowerView,
    rules: CopyRules,
    desired: dict[str, TargetPosition],
    actual: dict[str, tuple[str, float]],
) -> dict[str, float]:
    """A netting follower's copy of a provider's pending order is what filling that order would
    change in the symbol's target (signed), so that when the copy triggers the account holds
    what the target will be. With fixed sizing that may be nothing (the target stays
    ``fixed_volume``) or twice it (the target changes side)."""
    if follower.account.mode != "netting" or not state.orders:
        return {}
    deltas = {}
    for order in state.orders:
        symbol, _ = map_symbol(order.symbol, rules)
        if symbol is None or follower.specs.get(symbol) is None:
            continue
        price = order.stop_limit or order.price
        filled = Position(order.id, order.symbol, order.side, order.volume, price, order.time)
        with_it = msgspec.structs.replace(state, positions=[*state.positions, filled])
        after, _ = _desired(with_it, follower, rules, {}, actual)
        deltas[order.id] = round(_signed(after.get(symbol)) - _signed(desired.get(symbol)), 8)
    return deltas


def _signed(target: TargetPosition | None) -> float:
    if target is None:
        return 0.0
    return target.volume if target.side == "buy" else -target.volume


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
