"""One metrics registry for the hub: counters, gauges and histograms, handed to the services that
count, read as one snapshot (``Hub.snapshot()``) by the status command, the dashboard and
``/metrics``.

Cheap on hot paths: a counter increment is a dict update keyed by its label values; a histogram
observation is a bisect into fixed buckets. Nothing here does I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

Labels = tuple[str, ...]

# Seconds: from 50 us to 10 s, the range a hop of a trade copier can take.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 10.0,
)  # fmt: skip


@dataclass
class Counter:
    name: str
    help: str
    label_names: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, *labels: str) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount


@dataclass
class Gauge:
    """A value read when the snapshot is taken (``read`` returns label values -> value)."""

    name: str
    help: str
    read: Callable[[], Mapping[Labels, float]]
    label_names: Labels = ()


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def quantile(self, q: float) -> float | None:
        """An upper bound of the ``q`` quantile (the bucket it falls in), or None if empty."""
        if not self.count:
            return None
        rank, seen = q * self.count, 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            seen += n
            if seen >= rank:
                return bound
        return float("inf")


class Metrics:
    """The registry. ``counter``/``gauge``/``histogram`` create a metric once by name."""

    def __init__(self) -> None:
        self._metrics: dict[str, Counter | Gauge | Histogram] = {}

    def counter(self, name: str, help: str, label_names: Labels = ()) -> Counter:
        return self._add(Counter(name, help, label_names))  # type: ignore[return-value]

    def gauge(
        self,
        name: str,
        help: str,
        read: Callable[[], Mapping[Labels, float]],
        label_names: Labels = (),
    ) -> Gauge:
        return self._add(Gauge(name, help, read, label_names))  # type: ignore[return-value]

    def histogram(
        self, name: str, help: str, buckets: tuple[float, ...] = LATENCY_BUCKETS
    ) -> Histogram:
        return self._add(Histogram(name, help, buckets))  # type: ignore[return-value]

    def _add(self, metric: Counter | Gauge | Histogram) -> Counter | Gauge | Histogram:
        known = self._metrics.get(metric.name)
        if known is not None:
            if type(known) is not type(metric):
                raise ValueError(f"metric {metric.name!r} exists as a {type(known).__name__}")
            return known
        self._metrics[metric.name] = metric
        return metric

    def __iter__(self) -> Any:
        return iter(self._metrics.values())

    def snapshot(self) -> Mapping[str, Any]:
        """A read-only copy: name -> {labels: value} (counters, gauges) or histogram fields."""
        out: dict[str, Any] = {}
        for metric in self._metrics.values():
            if isinstance(metric, Counter):
                out[metric.name] = MappingProxyType(dict(metric.values))
            elif isinstance(metric, Gauge):
                out[metric.name] = MappingProxyType(dict(metric.read()))
            else:
                out[metric.name] = MappingProxyType(
                    {
                        "buckets": metric.buckets,
                        "counts": tuple(metric.counts),
                        "sum": metric.total,
                        "count": metric.count,
                        "p50": metric.quantile(0.5),
                        "p99": metric.quantile(0.99),
                    }
                )
        return MappingProxyType(out)
