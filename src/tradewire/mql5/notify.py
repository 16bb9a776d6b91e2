"""``SendNotification`` through apprise, with MQL5's limits: text of 1 to 255 characters, at most
2 calls per second and 10 per minute (counted over sliding windows on the injected clock)."""

from __future__ import annotations

from collections import deque
from typing import Any

from tradewire.clock import Clock
from tradewire.config import NotificationSettings
from tradewire.exceptions import ConfigError, Mql5Error
from tradewire.mql5.errors import (
    ERR_NOTIFICATION_SEND_FAILED,
    ERR_NOTIFICATION_TOO_FREQUENT,
    ERR_NOTIFICATION_WRONG_PARAMETER,
    ERR_NOTIFICATION_WRONG_SETTINGS,
)

MAX_TEXT = 255
LIMITS = ((1.0, 2), (60.0, 10))  # (window seconds, calls allowed in it)


class Notifier:
    def __init__(self, settings: NotificationSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._sent: deque[float] = deque()
        self._apprise: Any = None
        if settings.enabled and settings.urls:
            import apprise  # heavy; loaded only when notifications are configured

            self._apprise = apprise.Apprise()
            for index, url in enumerate(settings.urls):
                if not self._apprise.add(url):
                    raise ConfigError(
                        f"mql5.notifications.urls[{index}]: apprise does not understand {url!r}"
                    )

    def send(self, text: str) -> None:
        if not text:
            raise Mql5Error(ERR_NOTIFICATION_WRONG_PARAMETER, "the text is empty")
        if len(text) > MAX_TEXT:
            raise Mql5Error(
                ERR_NOTIFICATION_WRONG_PARAMETER,
                f"the text has {len(text)} characters; at most {MAX_TEXT}",
            )
        if self._apprise is None:
            raise Mql5Error(
                ERR_NOTIFICATION_WRONG_SETTINGS,
                "no notification targets in [mql5.notifications] urls",
            )
        now = self._clock.monotonic()
        longest = LIMITS[-1][0]
        while self._sent and self._sent[0] <= now - longest:
            self._sent.popleft()
        for window, allowed in LIMITS:
            if sum(1 for t in self._sent if t > now - window) >= allowed:
                raise Mql5Error(
                    ERR_NOTIFICATION_TOO_FREQUENT,
                    f"more than {allowed} notifications in {window:g} s",
                )
        self._sent.append(now)
        if not self._apprise.notify(body=text, title="tradewire"):
            raise Mql5Error(ERR_NOTIFICATION_SEND_FAILED, "no notification target accepted it")
