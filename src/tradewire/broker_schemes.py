"""Every kind of account ``--broker`` can name, said once: the composition of the broker
adapters. The brokers package is only the mechanism (brokers/registry.py); importing this module
registers the schemes, and the commands, the examples and the tests open accounts through it.

* ``paper:FILE[?...]``: the paper account (brokers/paper/), a file of its own;
* ``mt5:[?...]``: a MetaTrader 5 terminal through its Python package, on Windows
  (brokers/mt5/);
* ``terminal:NAME?hub=...``: a terminal running the bridge EA, over the hub's relay
  (clients/terminal/: a hub client, so it lives with the clients).
"""

from __future__ import annotations

from tradewire.brokers.mt5.scheme import Mt5Scheme
from tradewire.brokers.paper.scheme import PaperScheme
from tradewire.brokers.registry import OpenBroker, check_broker, open_broker, register
from tradewire.clients.terminal.scheme import TerminalScheme

register("paper", PaperScheme())
register("mt5", Mt5Scheme())
register("terminal", TerminalScheme())

__all__ = ["OpenBroker", "check_broker", "open_broker"]
