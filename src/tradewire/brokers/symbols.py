"""A catalogue of realistic symbol specifications (majors, metals, indices) and broker suffixes.

Figures are typical retail MT5 values: FX 100,000 units per lot, 5 digits (3 for JPY pairs);
gold 100 oz, silver 5,000 oz; index CFDs 1 unit per point. ``EURUSD.m`` style suffixes resolve
to the base spec renamed.
"""

from __future__ import annotations

import functools

import msgspec

from tradewire.brokers.base import SymbolSpec


def _fx(name: str, digits: int = 5) -> SymbolSpec:
    return SymbolSpec(name, 100_000.0, digits, 0.01, 0.01, 100.0, name[:3], name[3:6], 10)


CATALOGUE: dict[str, SymbolSpec] = {
    spec.name: spec
    for spec in (
        _fx("EURUSD"),
        _fx("GBPUSD"),
        _fx("AUDUSD"),
        _fx("NZDUSD"),
        _fx("USDCAD"),
        _fx("USDCHF"),
        _fx("USDJPY", 3),
        _fx("EURJPY", 3),
        _fx("GBPJPY", 3),
        _fx("EURGBP"),
        SymbolSpec("XAUUSD", 100.0, 2, 0.01, 0.01, 50.0, "XAU", "USD", 20),
        SymbolSpec("XAGUSD", 5000.0, 3, 0.01, 0.01, 50.0, "XAG", "USD", 20),
        SymbolSpec("US30", 1.0, 1, 0.1, 0.1, 500.0, "US30", "USD"),
        SymbolSpec("US500", 1.0, 2, 0.1, 0.1, 500.0, "US500", "USD"),
        SymbolSpec("NAS100", 1.0, 2, 0.1, 0.1, 500.0, "NAS100", "USD"),
        SymbolSpec("GER40", 1.0, 1, 0.1, 0.1, 500.0, "GER40", "EUR"),
    )
}

# Mid prices the seeded feed wanders around, and typical spreads in points.
REFERENCE_MID: dict[str, tuple[float, int]] = {
    "EURUSD": (1.0850, 10),
    "GBPUSD": (1.2650, 14),
    "AUDUSD": (0.6550, 12),
    "NZDUSD": (0.6050, 16),
    "USDCAD": (1.3550, 16),
    "USDCHF": (0.8850, 14),
    "USDJPY": (150.20, 12),
    "EURJPY": (163.00, 18),
    "GBPJPY": (190.00, 25),
    "EURGBP": (0.8580, 12),
    "XAUUSD": (2350.00, 30),
    "XAGUSD": (28.000, 30),
    "US30": (39000.0, 20),
    "US500": (5300.00, 50),
    "NAS100": (18500.00, 150),
    "GER40": (18300.0, 15),
}


@functools.lru_cache(maxsize=4096)  # a round asks for each of its symbols' specs (frozen)
def resolve(name: str, suffix: str = "") -> SymbolSpec | None:
    """The spec of ``name`` on a broker that appends ``suffix`` to every symbol, or ``None``."""
    if suffix:
        if not name.endswith(suffix):
            return None
        name_base = name[: -len(suffix)]
    else:
        name_base = name
    spec = CATALOGUE.get(name_base)
    return None if spec is None else msgspec.structs.replace(spec, name=name)


def base_name(name: str, suffix: str = "") -> str:
    """``EURUSD.m`` -> ``EURUSD`` for a broker with suffix ``.m``."""
    return name[: -len(suffix)] if suffix and name.endswith(suffix) else name
