"""Operator alerts: when a follower halts on a risk limit, stops at ``stop_equity``, trips a
runaway breaker or cannot set a stop, a person should hear of it at once, not read it in a
journal later. Each such journal event is also sent through apprise (``--alert URL``: ntfy,
Telegram, e-mail, Slack, a JSON webhook...; the same library as ``SendNotification``).

Sending runs on a thread (apprise is blocking), in tasks this object owns and waits for on
``aclose`` so that the alert of a stop leaves before the process does. The same alert is sent
once per ``REPEAT_S``: a stop modification refused every few seconds is one message, not a
flood. A target that fails is logged, never raised: an alert must not stop the copying.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tradewire.clock import Clock, SystemClock
from tradewire.exceptions import ConfigError

log = logging.getLogger(__name__)

# journal event -> what the alert's title calls it
ALERTED = {
    "halt": "risk limit halted copying",
    "stopped": "copying stopped",
    "breaker": "runaway breaker tripped",
    "alert": "a stop could not be set",
}
REPEAT_S = 600.0
Listener = Callable[[str, dict[str, Any]], None]


class Alerts:
    """Sends the alerting events of one or more journals to ``urls``."""

    def __init__(self, urls: Sequence[str], clock: Clock | None = None) -> None:
        import apprise  # heavy; loaded only when alerts are configured

        self._apprise = apprise.Apprise()
        for url in urls:
            if not _quietly(self._apprise.add, url):  # our one line says it better
                raise ConfigError(
                    f"--alert {url!r}: apprise does not understand it (for example "
                    "ntfy://TOPIC, tgram://TOKEN/CHAT, mailto://USER:PASS@HOST, json://HOST:PORT/PATH)"
                )
        self.clock: Clock = clock or SystemClock()
        self._last: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.failed = 0

    def listener(self, who: str) -> Listener:
        """The callable a Journal calls with each event (``Journal.listener``); ``who`` names
        the follower in the title ("carol/alpha")."""
        name = f"tradewire {who}" if who else "tradewire"

        def on_event(event: str, fields: dict[str, Any]) -> None:
            if event in ALERTED:
                self.send(f"{name}: {ALERTED[event]}", _body(fields))

        return on_event

    def send(self, title: str, body: str) -> None:
        now = self.clock.monotonic()
        key = f"{title}\n{body}"
        if now - self._last.get(key, -REPEAT_S) < REPEAT_S:
            return
        # forget what may be sent again anyway: reasons carry figures, so texts never repeat
        # exactly for months, and the memory of them must not grow with them
        for old in [k for k, sent in self._last.items() if now - sent >= REPEAT_S]:
            del self._last[old]
        self._last[key] = now
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command that is not copying): nothing to send from
            log.warning("alert not sent (no event loop): %s: %s", title, body)
            return
        task = loop.create_task(self._notify(title, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, title: str, body: str) -> None:
        try:
            ok = bool(await asyncio.to_thread(self._apprise.notify, body=body, title=title))
        except Exception as exc:  # a plugin's bug must not stop the copying
            ok = False
            log.warning("alert %r failed: %s: %s", title, type(exc).__name__, exc)
        if ok:
            self.sent += 1
        else:
            self.failed += 1
            log.warning("alert %r reached no target (see apprise's log above)", title)

    async def aclose(self) -> None:
        """Wait for the alerts being sent (each bounded by apprise's own timeouts)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _body(fields: dict[str, Any]) -> str:
    parts = [str(fields[k]) for k in ("key", "symbol", "limit") if fields.get(k)]
    reason = str(fields.get("reason", ""))
    return ": ".join([*parts, reason]) if reason else ", ".join(parts) or "(no detail)"


def _quietly(add: Callable[[str], bool], url: str) -> bool:
    """``add(url)`` without apprise's own ERROR line (ours names the flag and what works)."""
    logger = logging.getLogger("apprise")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        return add(url)
    finally:
        logger.setLevel(level)
