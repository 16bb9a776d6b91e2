"""The metrics registry: counters by labels, gauges read at snapshot time, histograms."""

from __future__ import annotations

import pytest

from tradewire.metrics import Metrics


def test_counters_gauges_and_histograms_in_one_read_only_snapshot() -> None:
    metrics = Metrics()
    refused = metrics.counter("refused_total", "refusals", ("reason",))
    refused.inc(1, "banned")
    refused.inc(2, "banned")
    refused.inc(1, "busy")
    assert metrics.counter("refused_total", "again", ("reason",)) is refused  # one per name
    level = [3.0]
    metrics.gauge("depth", "queue depth", lambda: {(): level[0]})
    latency = metrics.histogram("latency_seconds", "latency", buckets=(0.001, 0.01, 0.1))
    for value in (0.0005, 0.002, 0.003, 0.05, 5.0):
        latency.observe(value)
    level[0] = 7.0
    snap = metrics.snapshot()
    assert snap["refused_total"] == {("banned",): 3.0, ("busy",): 1.0}
    assert snap["depth"] == {(): 7.0}  # read when the snapshot is taken
    assert snap["latency_seconds"]["counts"] == (1, 2, 1, 1)
    assert snap["latency_seconds"]["p50"] == 0.01 and snap["latency_seconds"]["count"] == 5
    with pytest.raises(TypeError):
        snap["depth"][()] = 1.0  # type: ignore[index]
    with pytest.raises(ValueError, match="exists as a Counter"):
        metrics.histogram("refused_total", "clash")
