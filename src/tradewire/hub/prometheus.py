"""The hub's metrics registry (tradewire.metrics) in Prometheus' text format, through
``prometheus-client``: a collector that reads the registry at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tradewire.metrics import Counter, Gauge, Metrics


class RegistryCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            if isinstance(metric, Counter):
                counter = CounterMetricFamily(
                    metric.name, metric.help, labels=list(metric.label_names)
                )
                for labels, value in sorted(metric.values.items()):
                    counter.add_metric(list(labels), value)
                yield counter
            elif isinstance(metric, Gauge):
                gauge = GaugeMetricFamily(metric.name, metric.help, labels=list(metric.label_names))
                for labels, value in sorted(metric.read().items()):
                    gauge.add_metric(list(labels), value)
                yield gauge
            else:
                cumulative, buckets = 0, []
                for bound, n in zip((*metric.buckets, float("inf")), metric.counts, strict=True):
                    cumulative += n
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
                yield HistogramMetricFamily(
                    metric.name, metric.help, buckets=buckets, sum_value=metric.total
                )


def exposition(metrics: Metrics) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegistryCollector(metrics))
    return generate_latest(registry)
