from __future__ import annotations

from tradewire.protocol.legacy import net_volumes, signal_message, signal_update
from tradewire.protocol.messages import Position


def test_signal_messages_match_the_article_format() -> None:
    assert signal_message("GBPUSD", 0.25) == b"<<GBPUSD|0.25>>"
    assert signal_message("GBPUSD", -0.1) == b"<<GBPUSD|-0.10>>"
    assert signal_message("GBPUSD", -0.0001) == b"<<GBPUSD|0.00>>"
    assert signal_message("XAUUSD", 0) == b"<<XAUUSD|0.00>>"


def test_nets_and_updates() -> None:
    positions = [
        Position("1", "EURUSD", "buy", 0.3, 1.0, 1),
        Position("2", "EURUSD", "sell", 0.1, 1.0, 2),
        Position("3", "US30", "sell", 1.5, 1.0, 3),
    ]
    nets = net_volumes(positions)
    assert nets == {"EURUSD": 0.2, "US30": -1.5}
    assert signal_update(nets, {}) == b"<<EURUSD|0.20>><<US30|-1.50>>"
    assert signal_update({"US30": -1.5}, nets) == b"<<US30|-1.50>><<EURUSD|0.00>>"
    assert signal_update({}, {"EURUSD": 0.0}) == b""
