"""``tradewire follow --accounts FILE --leases nats://...``: two engines share one accounts file
through a real nats-server. Each copies the accounts whose lease it holds; one is killed with
SIGKILL while copying, and the other takes its accounts over within 5 s. Every account ends as
the provider's, each position opened once (docs/engine.md, "Several machines")."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

from tests.system.engine_rig import converged_once, hub_and_provider, trade_around
from tests.system.test_copy_cli import spawn
from tradewire.bus.nats_server import NatsServer

NAMES = ["h1", "h2", "h3", "h4", "n1", "n2"]


def accounts_file(tmp_path: Path) -> str:
    return "".join(
        f'[[account]]\nname = "{n}"\nchannel = "alpha"\n'
        f'broker = "paper:{tmp_path}/{n}.db?mode={"hedging" if n[0] == "h" else "netting"}"\n'
        for n in NAMES
    )


def held(folder: Path) -> set[str]:
    """The accounts an engine copies now, from its status file (rewritten every second)."""
    try:
        status = json.loads((folder / "accounts.status.json").read_text())
    except (OSError, ValueError):
        return set()
    return {row["account"] for row in status["accounts"]}


class Output:
    """A process's output, read as it comes (timestamped lines), so its pipe never fills."""

    def __init__(self, stream: object) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append((time.monotonic(), line))

    def took(self) -> dict[str, float]:
        """Account -> when this engine logged that it took it (the last time)."""
        out = {}
        for at, line in self.lines:
            found = re.search(r"took account (\S+)", line)
            if found:
                out[found.group(1)] = at
        return out

    def text(self) -> str:
        return "".join(line for _, line in self.lines)


def test_two_engines_share_accounts_and_one_takes_over_a_killed_ones_within_5_s(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    address, others = hub_and_provider(tmp_path)
    engines, outputs = [], []
    for name in ("a", "b"):  # two machines: each its own folder, journals and status
        (tmp_path / name).mkdir()
        (tmp_path / name / "accounts.toml").write_text(accounts_file(tmp_path))
        # a gives the URL as --leases, b in $TRADEWIRE_LEASES (where a token belongs)
        given = ["--leases", nats_server.url] if name == "a" else []
        env = {} if name == "a" else {"TRADEWIRE_LEASES": nats_server.url}
        engine = spawn("follow", "--hub", address, "--user", "eng", "--accounts",
                       "accounts.toml", *given, cwd=tmp_path / name, env=env)  # fmt: skip
        engines.append(engine)
        outputs.append(Output(engine.stdout))
    try:
        deadline = time.monotonic() + 30
        while [len(held(tmp_path / n)) for n in "ab"] != [3, 3]:  # half each, sooner or later
            assert time.monotonic() < deadline, [o.text() for o in outputs]
            time.sleep(0.2)
        shares = [held(tmp_path / n) for n in "ab"]
        assert shares[0].isdisjoint(shares[1]), shares
        # no goodbye: its leases expire
        killed_at = trade_around(tmp_path, lambda: engines[0].send_signal(signal.SIGKILL))
        deadline = time.monotonic() + 15
        while not shares[0] <= set(outputs[1].took()):
            assert time.monotonic() < deadline, outputs[1].text()
            time.sleep(0.1)
        took = outputs[1].took()
        taken_in = max(took[name] - killed_at for name in shares[0])
        assert taken_in < 5.0, (taken_in, outputs[1].text())
        print(f"the killed engine's accounts were taken over in {taken_in:.2f} s")
        converged_once(tmp_path, NAMES, lambda: engines[1].poll() is None)
        deadline = time.monotonic() + 10
        while held(tmp_path / "b") != set(NAMES):
            assert time.monotonic() < deadline, held(tmp_path / "b")
            time.sleep(0.2)
    finally:
        for proc in (*engines, *others):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert engines[1].returncode == 0, outputs[1].text()
