"""The follower's own page (cli/follower_page.py, docs/follower-page.md) in a real browser:
`tradewire follow --page` serves it from the copying process; it shows the account's P/L, each
target against what is held with its stops, copy quality and the journal, filtered by event.
An address that is not loopback is refused in one line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.system.test_copy_cli import PASSWORD, TRADEWIRE, run, spawn
from tests.system.test_dashboard import browser, free_port  # noqa: F401


def test_the_follower_page_shows_the_copied_account(
    tmp_path: Path,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    for name, role in (("prov", "provider"), ("fol", "follower")):
        run("user", "add", name, "--role", role, "--channel", "alpha", cwd=tmp_path,
            stdin=PASSWORD + "\n")  # fmt: skip
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    page_port = free_port()
    processes = [
        hub,
        spawn("provide", "--hub", address, "--user", "prov", "--channel", "alpha",
              "--broker", "paper:prov.db?mode=hedging", cwd=tmp_path),
        spawn("follow", "--hub", address, "--user", "fol", "--channel", "alpha",
              "--broker", "paper:fol.db?mode=hedging&balance=5000", "--multiplier", "0.5",
              "--include", "EURUSD", "--journal", "fol.jsonl",
              "--page", f"127.0.0.1:{page_port}", cwd=tmp_path),
    ]  # fmt: skip
    try:
        time.sleep(1.5)
        run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "buy", "0.4", cwd=tmp_path)
        run("paper", "order", "--broker", "paper:prov.db", "GBPUSD", "sell", "0.2", cwd=tmp_path)
        base = f"http://127.0.0.1:{page_port}"
        wait = WebDriverWait(browser, 20, ignored_exceptions=(NoSuchElementException,))
        deadline = time.monotonic() + 20
        while True:  # the page is up once the follower has copied
            try:
                rows = httpx.get(base + "/api/accounts").json()
                if rows and rows[0]["fills"] >= 1 and rows[0]["in_sync"]:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the follower page never showed a fill"
            time.sleep(0.2)
        browser.get(base + "/")
        wait.until(lambda d: "fol" in d.find_element(By.ID, "accounts").text)
        accounts = browser.find_element(By.ID, "accounts").text
        assert "alpha" in accounts and "yes" in accounts and "5,000 USD" in accounts
        wait.until(lambda d: "EURUSD" in d.find_element(By.ID, "positions").text)
        held = browser.find_element(By.ID, "positions").text
        assert "buy 0.2" in held  # 0.4 x 0.5, held as targeted
        wait.until(
            lambda d: "GBPUSD is not in the include list" in d.find_element(By.ID, "skipped").text
        )
        wait.until(lambda d: "fill" in d.find_element(By.ID, "journal").text)
        Select(browser.find_element(By.ID, "event")).select_by_visible_text("skip")
        browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        wait.until(lambda d: "fill" not in d.find_element(By.ID, "journal").text)
        assert "include list" in browser.find_element(By.ID, "journal").text
        Select(browser.find_element(By.ID, "event")).select_by_visible_text("any")
        browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        wait.until(lambda d: "fill" in d.find_element(By.ID, "journal").text)
        browser.save_screenshot(str(tmp_path / "follower.png"))
        if os.environ.get("TRADEWIRE_SCREENSHOTS"):  # docs/follower-page.md's picture
            browser.save_screenshot(str(Path(__file__).parents[2] / "docs" / "follower-page.png"))
        detail = httpx.get(base + "/api/account", params={"name": "fol"}).json()
        assert detail["summary"]["realized"] == 0 and detail["summary"]["floating"] is not None
        assert "realized since start 0 USD" in browser.find_element(By.ID, "pl").text
        assert httpx.get(base + "/api/accounts").json()[0]["realized"] is None  # list: cheap
        assert httpx.get(base + "/api/account", params={"name": "nobody"}).status_code == 404
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_page_on_a_public_address_is_refused(tmp_path: Path) -> None:
    refused = subprocess.run(
        [TRADEWIRE, "follow", "--hub", "127.0.0.1:1", "--user", "fol", "--channel", "alpha",
         "--broker", "paper:f.db", "--page", "0.0.0.0:8480"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**os.environ, "TRADEWIRE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert refused.returncode == 1 and "loopback" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
