"""Ticks: storage, bars, reading, and the sender used by terminals and scripts."""

from tradewire.ticks.read import read

__all__ = ["read"]
