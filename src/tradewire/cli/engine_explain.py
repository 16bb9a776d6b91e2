"""``tradewire follow --accounts FILE --explain ACCOUNT[:SYMBOL]``: why each target of one
account of a running copy engine is what it is.

The engine rewrites every account's status each second; planning a thousand accounts again with
notes every second would cost it for nothing. So an explanation is made only when asked: this
command leaves a request beside the status file, the engine adds that account's explanation
to its next status (``CopyEngine.status``), and the command prints it and takes the request
back. A request older than a minute is ignored (a command killed while waiting).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tradewire.cli.common import fail
from tradewire.cli.follow_status import print_explanations

FRESH_MS = 60_000
WAIT_S = 5.0


def request_path(status_path: Path) -> Path:
    return status_path.with_name(status_path.name.replace(".status.json", "") + ".explain.json")


def asked(status_path: Path) -> tuple[str, int] | None:
    """The account whose explanation is asked for now, and when it was asked (ms)."""
    try:
        request = json.loads(request_path(status_path).read_text())
        account, asked_ms = str(request["account"]), int(request["asked_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (account, asked_ms) if time.time() * 1000 - asked_ms < FRESH_MS else None


def ask_and_print(status_path: Path, what: str) -> None:
    """Ask the engine writing ``status_path`` to explain ``ACCOUNT[:SYMBOL]``; print it."""
    account, _, symbol = what.partition(":")
    if not status_path.exists():
        fail(f"no status at {status_path}: is the copy engine running with that file?")
    asked_ms = int(time.time() * 1000)
    path = request_path(status_path)
    path.write_text(json.dumps({"account": account, "asked_ms": asked_ms}))
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            explained = _read(status_path).get("explained") or {}
            if explained.get("asked_ms") == asked_ms:
                break
            if time.monotonic() > deadline:
                fail(f"the engine did not answer within {WAIT_S:g} s: is it running?")
            time.sleep(0.1)
    finally:
        path.unlink(missing_ok=True)
    if explained.get("error"):
        fail(explained["error"])
    print_explanations(explained, symbol or None)


def _read(path: Path) -> dict[str, Any]:
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # being replaced this instant: read again
    return status
