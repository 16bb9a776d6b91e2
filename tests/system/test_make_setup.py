"""The make targets install their Debian packages quietly (issue 27): one line says what is
installed, apt's own output goes to a log. apt-get is replaced by a script that prints 300
lines, so the test needs no network and changes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_missing_package_is_installed_in_one_line_of_output(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    apt = fake / "apt-get"
    apt.write_text('#!/bin/sh\nfor i in $(seq 300); do echo "Selecting package $i"; done\n')
    apt.chmod(0o755)
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        f"include {ROOT / 'Makefile'}\n"
        "try:\n"
        "\t@command -v no-such-tool-tw >/dev/null || $(call apt,no-such-tool-tw)\n"
    )
    log = tmp_path / "apt.log"
    done = subprocess.run(
        ["make", "-s", "-f", str(makefile), "try", f"APT_LOG={log}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"installing Debian packages: no-such-tool-tw (apt's output in {log})",
        "installed: no-such-tool-tw",
    ]
    assert log.read_text().count("Selecting package") == 600  # update and install, kept
