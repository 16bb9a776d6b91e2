"""Secure by default (issue 12, items 11, 12, 14, 16): loopback unless told, no plaintext on
the network without saying so, a private data directory, one hub per data directory, and a
start banner that names each listener's real scheme."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme

from tests.system.test_cli import TRADEWIRE


@contextmanager
def serving(cwd: Path, *args: str) -> Iterator[tuple[list[str], subprocess.Popen[str]]]:
    """``tradewire serve`` until its banner's last line; yields the banner lines."""
    proc = subprocess.Popen(
        [TRADEWIRE, "serve", "--port", "0", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert proc.stdout is not None
    lines = []
    try:
        while not (line := proc.stdout.readline()).startswith("data in "):
            assert line, proc.communicate()[1]
            lines.append(line.strip())
        yield lines, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_serve_listens_on_loopback_and_keeps_its_data_private(tmp_path: Path) -> None:
    with serving(tmp_path) as (banner, _):
        assert re.fullmatch(r"tradewire hub listening on tcp://127\.0\.0\.1:\d+", banner[0])
        data = tmp_path / "tradewire-data"
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for path in data.glob("*.db*"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_plaintext_on_the_network_needs_allow_plaintext(tmp_path: Path) -> None:
    refused = subprocess.run(
        [TRADEWIRE, "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 1
    assert "allow_plaintext" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    (tmp_path / "hub.toml").write_text("[hub]\nallow_plaintext = true\n")
    with serving(tmp_path, "--host", "0.0.0.0", "--config", "hub.toml") as (banner, proc):
        assert banner[-1].startswith("tradewire hub listening on tcp://0.0.0.0:")
    assert proc.stderr is not None
    assert "passwords would cross the network in clear" in proc.stderr.read()


def test_the_banner_names_each_listeners_real_scheme(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    (tmp_path / "hub.toml").write_text(
        '[tls]\ncert = "server.pem"\nkey = "server.key"\n'
        "[listeners.udp_ticks]\nenabled = true\nport = 0\n"
        "[listeners.signal]\nenabled = true\nport = 0\n"
    )
    with serving(tmp_path, "--config", "hub.toml") as (banner, _):
        assert re.fullmatch(r"tradewire hub listening on tls://127\.0\.0\.1:\d+", banner[0])
        udp, signals = banner[1], banner[2]
        assert re.match(r"tradewire hub listening on udp://127\.0\.0\.1:\d+ \(UDP ticks", udp)
        assert re.match(r"tradewire hub listening on tcp://127\.0\.0\.1:\d+ \(article", signals)
        assert all("no authentication" in line for line in (udp, signals))


def test_one_hub_per_data_directory_and_loose_modes_are_warned(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, first):
        second = subprocess.run(
            [TRADEWIRE, "serve", "--port", "0"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"another hub (pid {first.pid}) is running" in second.stderr
    os.chmod(tmp_path / "tradewire-data", 0o755)
    with serving(tmp_path) as (_, proc):
        pass
    assert proc.stderr is not None
    warnings = proc.stderr.read()
    assert "readable by other local users" in warnings and "chmod 700" in warnings
