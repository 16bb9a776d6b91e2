"""The hub's own topic publisher: indicators over the live ticks it collects (configured in
``[[topics.indicators]]``), published on ``ind.SYMBOL.TIMEFRAME.KINDPERIOD`` at each closed
bar as ``{"time": bar open ms, "value": x, "close": bar close}`` (docs/topics.md)."""

from __future__ import annotations

import logging

import msgspec

from tradewire.bus.base import Message
from tradewire.config import IndicatorSettings
from tradewire.hub.services.topics.service import TopicService
from tradewire.protocol.ticks import TickRow
from tradewire.ticks.bars import TIMEFRAMES_MS
from tradewire.ticks.indicators import BarBuilder, Indicator, indicator

log = logging.getLogger(__name__)


def topic_name(settings: IndicatorSettings) -> str:
    return f"ind.{settings.symbol}.{settings.timeframe}.{settings.kind}{settings.period}"


class IndicatorPublisher:
    def __init__(self, settings: list[IndicatorSettings], topics: TopicService) -> None:
        self._topics = topics
        # symbol -> [(bar builder, [(topic, indicator)])], one builder per timeframe
        self._by_symbol: dict[str, list[tuple[BarBuilder, list[tuple[str, Indicator]]]]] = {}
        builders: dict[tuple[str, str], tuple[BarBuilder, list[tuple[str, Indicator]]]] = {}
        for item in settings:
            key = (item.symbol, item.timeframe)
            if key not in builders:
                builders[key] = (BarBuilder(TIMEFRAMES_MS[item.timeframe]), [])
                self._by_symbol.setdefault(item.symbol, []).append(builders[key])
            builders[key][1].append((topic_name(item), indicator(item.kind, item.period)))

    def on_ticks(self, rows: list[TickRow]) -> None:
        """Stored rows (TickService observer): close bars, update indicators, publish."""
        if not self._by_symbol:
            return
        for row in rows:
            for builder, outputs in self._by_symbol.get(row[0], ()):
                bar = builder.add(row[1], row[2])
                if bar is None:
                    continue
                for topic, calc in outputs:
                    value = calc.update(bar)
                    if value is not None:
                        body = {"time": bar.time_ms, "value": value, "close": bar.close}
                        self._topics.publish(topic, msgspec.Raw(msgspec.json.encode(body)), _done)


def _done(result: Message | Exception) -> None:
    if isinstance(result, Exception):
        log.warning("an indicator value was not stored: %s", result)
