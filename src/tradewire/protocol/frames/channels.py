"""Signal channels (PROTOCOL.md 1.1, 1.2): a provider's state, and the state as the hub sends it."""

from __future__ import annotations

from tradewire.model import Account, Int64, PendingOrder, Position
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId
from tradewire.protocol.names import is_channel, is_finite, is_symbol


class PublishState(Frame, frozen=True, tag="state"):
    """A provider's full position state for channel ``ch``."""

    ch: str
    ts: Int64
    account: Account
    positions: list[Position]
    # Protocol 1.2: the provider's pending orders. None (absent, a 1.1 provider) says nothing
    # about them; [] says there are none.
    orders: list[PendingOrder] | None = None
    id: RequestId = None
    # Replace a live publisher of another account or user (audited); see PROTOCOL.md 1.1.
    takeover: bool = False
    # When the provider saw the change, on the hub's clock (microseconds; docs/latency.md).
    det_us: Int64 | None = None


class StateUpdate(Frame, frozen=True, tag="state"):
    """A channel's state as the hub sends it: the provider's state stamped with ``seq``."""

    ch: str
    seq: int
    ts: int
    account: Account
    positions: list[Position]
    orders: list[PendingOrder] | None = None  # protocol 1.2 (PublishState.orders)
    # Per-hop stamps on the hub's clock, microseconds (0: unknown): the provider saw the change,
    # the hub received it, the hub stored it and began writing it out (docs/latency.md).
    hops: list[int] | None = None


MAX_POSITIONS = 1000


def state_problem(
    channel: str, positions: list[Position], mode: str, orders: list[PendingOrder] | None = None
) -> str | None:
    """The first rule of PROTOCOL.md 1.1 (and 1.2's ``orders``) a state breaks, or ``None``."""
    if not is_channel(channel):
        return "channel name must match [A-Za-z0-9_.-]{1,64}"
    if len(positions) > MAX_POSITIONS:
        return f"at most {MAX_POSITIONS} positions"
    ids: set[str] = set()
    symbols: set[str] = set()
    for index, pos in enumerate(positions):
        where = f"positions[{index}]"
        if not is_symbol(pos.symbol):
            return f"{where}.symbol must match [A-Za-z0-9_.#+-]{{1,32}}"
        if not (is_finite(pos.volume) and pos.volume > 0):
            return f"{where}.volume must be finite and > 0"
        for name in ("price", "sl", "tp"):
            value = getattr(pos, name)
            if not (is_finite(value) and value >= 0):
                return f"{where}.{name} must be finite and >= 0"
        if pos.id in ids:
            return f"{where}.id {pos.id!r} is not unique"
        ids.add(pos.id)
        if mode == "netting":
            if pos.symbol in symbols:
                return f"{where}: netting mode allows one position per symbol ({pos.symbol})"
            symbols.add(pos.symbol)
    return orders_problem(orders or [])


def orders_problem(orders: list[PendingOrder]) -> str | None:
    """The first rule of PROTOCOL.md 1.2 a state's pending orders break, or ``None``. (An
    expiration in the past is not refused here: a follower skips that order, saying why.)"""
    if len(orders) > MAX_POSITIONS:
        return f"at most {MAX_POSITIONS} orders"
    ids: set[str] = set()
    for index, order in enumerate(orders):
        where = f"orders[{index}]"
        if not is_symbol(order.symbol):
            return f"{where}.symbol must match [A-Za-z0-9_.#+-]{{1,32}}"
        if not (is_finite(order.volume) and order.volume > 0):
            return f"{where}.volume must be finite and > 0"
        if not (is_finite(order.price) and order.price > 0):
            return f"{where}.price must be finite and > 0"
        for name in ("stop_limit", "sl", "tp"):
            value = getattr(order, name)
            if not (is_finite(value) and value >= 0):
                return f"{where}.{name} must be finite and >= 0"
        if order.type.endswith("stop_limit") and not order.stop_limit:
            return f"{where}: a {order.type} needs stop_limit (the limit price)"
        if order.expiration < 0:
            return f"{where}.expiration must be Unix ms, or 0 for good-till-cancelled"
        if not order.id or order.id in ids:
            return f"{where}.id {order.id!r} is empty or not unique"
        ids.add(order.id)
    return None


def _state_check(frame: PublishState) -> tuple[str, str] | None:
    problem = state_problem(frame.ch, frame.positions, frame.account.mode, frame.orders)
    if problem is None and not (
        is_finite(frame.account.balance) and is_finite(frame.account.equity)
    ):
        problem = "account balance and equity must be finite"
    return None if problem is None else ("invalid_state", problem)


FRAMES = FrameSet(
    "channels",
    client=(PublishState,),
    server=(StateUpdate,),
    checks={PublishState: _state_check},
)
