"""Broker adapters behind one protocol: the paper broker (embedded default) and later MT5."""
