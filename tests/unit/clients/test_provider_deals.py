"""A provider facing a hub from before protocol 1.5 (it answers ``deals`` with ``bad_frame``):
it stops sending deals for good after the first refusal, and keeps publishing its states. The
older hub cannot run here (it is a previous release), so a stand-in answers as it would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.provider import Provider
from tradewire.exceptions import HubRefused
from tradewire.model import OrderRequest


class OlderHub:
    """Acks states; refuses deals as a hub without the frame does."""

    def __init__(self) -> None:
        self.states = 0
        self.deals_asked = 0

    async def publish_state(self, *args: Any, **kwargs: Any) -> int:
        self.states += 1
        return self.states

    async def put_deals(self, *args: Any) -> int:
        self.deals_asked += 1
        raise HubRefused("bad_frame", "unknown frame type 'deals'")


async def test_an_older_hub_is_not_sent_deals_again(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "p.db", PaperSettings())
    hub = OlderHub()
    provider = Provider(broker, hub, "alpha")  # type: ignore[arg-type]
    try:
        for _ in range(3):
            await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
            await provider.publish_now()
        assert hub.states == 3 and hub.deals_asked == 1
    finally:
        await broker.close()
