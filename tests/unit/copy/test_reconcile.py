"""Properties of reconcile: its orders reach the target, and a reached target needs none."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradewire.brokers.ledger import apply_fill
from tradewire.brokers.symbols import resolve
from tradewire.copy import CopyRules, FollowerView, ProviderState, plan, reconcile
from tradewire.copy.plan import groups, managed
from tradewire.model import Account, OrderRequest, Position, SymbolSpec

SYMBOLS = ["EURUSD", "XAUUSD", "US30"]
SPECS: dict[str, SymbolSpec | None] = {s: resolve(s) for s in SYMBOLS}
MAGIC = CopyRules().magic


def execute(orders: list, positions: list[Position], mode: str) -> list[Position]:
    """Apply orders the way a broker would (the paper broker's own ledger)."""
    ids = itertools.count(1000)
    for order in orders:
        spec = SPECS[order.symbol]
        assert spec is not None
        request = OrderRequest(
            order.symbol, order.side, order.volume, order.position_id, order.magic, order.comment
        )
        positions = apply_fill(
            mode,
            positions,
            request,
            spec,
            1.0,
            1,
            lambda: str(next(ids)),  # type: ignore[arg-type]
            lambda _: 1.0,
        ).positions
    return positions


def signed_by_key(target: dict, mode: str) -> dict[str, float]:
    return {k: round(t.volume if t.side == "buy" else -t.volume, 8) for k, t in target.items()}


def on_step(symbol: str, volume: float) -> float:
    spec = SPECS[symbol]
    assert spec is not None
    return round(max(1, round(volume / spec.volume_step)) * spec.volume_step, 8)


provider_positions = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 400).map(lambda n: n / 100),
    ),
    max_size=8,
)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[ProviderState, FollowerView, CopyRules]:
    provider_mode = draw(st.sampled_from(["netting", "hedging"]))
    follower_mode = draw(st.sampled_from(["netting", "hedging"]))
    raw = draw(provider_positions)
    if provider_mode == "netting":
        raw = list({s: (s, side, v) for s, side, v in raw}.values())
    positions = [Position(str(i), s, side, v, 1.0, i) for i, (s, side, v) in enumerate(raw)]  # type: ignore[arg-type]
    state = ProviderState(
        Account("p", "USD", 10_000, 10_000, 100, provider_mode),  # type: ignore[arg-type]
        positions,
        0,
    )
    # Whatever the follower holds now: random managed positions, some linked, some not.
    held = draw(
        st.lists(
            st.tuples(
                st.sampled_from(SYMBOLS),
                st.sampled_from(["buy", "sell"]),
                st.integers(1, 300).map(lambda n: n / 100),
                st.sampled_from(["p0", "p1", "sEURUSD", "x"]),
            ),
            max_size=5,
        )
    )
    if follower_mode == "netting":
        held = list({s: (s, side, v, k) for s, side, v, k in held}.values())
    # Brokers only hold volumes on the symbol's step.
    actual = [
        Position(str(i), s, side, on_step(s, v), 1.0, i, magic=MAGIC, comment=f"tw:{k}")  # type: ignore[arg-type]
        for i, (s, side, v, k) in enumerate(held)
    ]
    account = Account("f", "USD", 5_000, 5_000, 100, follower_mode)  # type: ignore[arg-type]
    rules = CopyRules(
        multiplier=draw(st.sampled_from([0.5, 1.0, 2.0, 0.37])), reverse=draw(st.booleans())
    )
    return state, FollowerView(account, actual, SPECS, {}), rules


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_applying_the_orders_reaches_the_target_and_then_nothing_is_left(
    case: tuple[ProviderState, FollowerView, CopyRules],
) -> None:
    state, view, rules = case
    mode = view.account.mode
    target = plan(state, view, rules, 0).target
    positions = view.positions
    for _ in range(10):  # large changes may take several rounds (volume_max per order)
        orders = reconcile(target, managed(positions, rules), mode, SPECS, rules.magic)
        if not orders:
            break
        positions = execute(orders, positions, mode)
    else:
        raise AssertionError("did not converge in 10 rounds")
    reached = {
        k: v for k, (_, v) in groups(managed(positions, rules), mode).items() if abs(v) > 1e-9
    }
    assert reached == signed_by_key(target, mode)


@settings(max_examples=200)
@given(scenario())
def test_reconcile_of_a_reached_target_is_empty(
    case: tuple[ProviderState, FollowerView, CopyRules],
) -> None:
    state, view, rules = case
    mode = view.account.mode
    target = plan(state, view, rules, 0).target
    positions = execute(reconcile(target, [], mode, SPECS, rules.magic), [], mode)
    assert reconcile(target, positions, mode, SPECS, rules.magic) == []


def test_reductions_come_before_opens_and_partial_closes_keep_the_link() -> None:
    eur = SPECS["EURUSD"]
    assert eur is not None
    positions = [
        Position("1", "EURUSD", "buy", 1.0, 1.0, 1, magic=MAGIC, comment="tw:p9"),
        Position("2", "XAUUSD", "sell", 0.5, 1.0, 2, magic=MAGIC, comment="tw:p8"),
    ]
    from tradewire.copy import TargetPosition

    target = {
        "p9": TargetPosition("p9", "EURUSD", "buy", 0.4, 1.0),
        "p7": TargetPosition("p7", "US30", "buy", 1.0, 1.0),
    }
    orders = reconcile(target, positions, "hedging", SPECS, MAGIC)
    assert [(o.action, o.key, o.position_id, o.volume) for o in orders] == [
        ("close", "p8", "2", 0.5),
        ("reduce", "p9", "1", 0.6),
        ("open", "p7", None, 1.0),
    ]
    assert orders[-1].comment == "tw:p7" and all(o.magic == MAGIC for o in orders)
