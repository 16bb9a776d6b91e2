"""A channel's statistics page (hub/channel_pages.py) in a real browser: a public channel's page
opens without a login and shows its figures and curves; another channel's page and figures need
an admin; the public figures are rate-limited per address (429 with Retry-After)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import PASSWORD
from tests.security.hubproc import add_cli_user, hub_process
from tests.system.test_copy_cli import TRADEWIRE
from tests.system.test_dashboard import browser, free_port, hello  # noqa: F401

T0 = 1_796_000_000_000
H = 3_600_000


def publish(port: int, user: str, channel: str) -> None:
    """A win of 250, a deposit of 1,000, a loss of 100: states as a provider sends them (the
    hub keeps them on its own clock, whatever their ts)."""
    sock, _ = hello(port, user)
    lines = sock.makefile("rb")
    account = {"login": "5012345", "currency": "USD", "leverage": 100, "mode": "hedging"}
    held = [{"id": "1", "symbol": "EURUSD", "side": "buy", "volume": 0.1, "price": 1.1, "time": T0}]
    again = [{**held[0], "id": "2", "time": T0 + 3 * H}]
    moments = [
        (10_000, 10_000, held), (10_000, 9_900, held), (10_250, 10_250, []),
        (11_250, 11_250, []), (11_250, 11_250, again), (11_150, 11_150, []),
    ]  # fmt: skip
    for n, (balance, equity, positions) in enumerate(moments, 1):
        frame = {
            "t": "state", "ch": channel, "ts": T0 + n * H, "id": n, "positions": positions,
            "account": {**account, "balance": balance, "equity": equity},
        }  # fmt: skip
        sock.sendall(json.dumps(frame).encode() + b"\n")
        assert json.loads(lines.readline())["t"] == "ack"
        time.sleep(0.3)  # the history is on the hub's clock: spread the moments for the chart
    sock.close()


def test_a_public_channel_page_and_a_private_one(
    tmp_path: Path,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    data = tmp_path / "data"
    add_cli_user(data, "root", "admin")
    add_cli_user(data, "alice", "provider", "alpha")
    add_cli_user(data, "carol", "provider", "beta")
    web_port = free_port()
    config = (
        f"[web]\nenabled = true\nport = {web_port}\n"
        '[history]\npublic = ["alpha"]\npublic_rate_per_s = 0.5\npublic_burst = 6\n'
        "sample_s = 0.1\n"  # every state below is kept (they come 0.3 s apart)
    )
    with hub_process(tmp_path, config) as port:
        publish(port, "alice", "alpha")
        publish(port, "carol", "beta")
        base = f"http://127.0.0.1:{web_port}"
        browser.get(base + "/channels/alpha")  # no login
        wait = WebDriverWait(browser, 10, ignored_exceptions=(NoSuchElementException,))
        wait.until(lambda d: "growth" in d.find_element(By.ID, "figures").text)
        figures = browser.find_element(By.ID, "figures").text
        assert "+1.59%" in figures  # 1.025 x (1 - 100/11,250) = 1.01589: the deposit left out
        assert "1,000 USD" in figures and "5012345" not in browser.page_source
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#curve .main-svg"))
        assert "+1.59%" in browser.find_element(By.ID, "monthly").text  # one month, the hub's
        browser.save_screenshot(str(tmp_path / "channel.png"))
        if os.environ.get("TRADEWIRE_SCREENSHOTS"):  # docs/statistics.md's picture
            browser.save_screenshot(str(Path(__file__).parents[2] / "docs" / "channel.png"))

        private = httpx.get(base + "/api/channels/beta/stats")
        assert private.status_code == 403
        page = httpx.get(base + "/channels/beta", follow_redirects=False)
        assert page.status_code == 303 and page.headers["Location"] == "/login"
        statuses = [httpx.get(base + "/api/channels/alpha/stats").status_code for _ in range(8)]
        assert 429 in statuses  # 6 at once, then one each 2 s
        refused = httpx.get(base + "/api/channels/alpha/stats")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert httpx.get(base + "/api/channels/../stats").status_code == 404


def test_an_admin_simulates_following_a_channel(
    tmp_path: Path,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    """The what-if form on the channel page (docs/simulate.md): an admin replays the channel
    onto 5,000 USD at twice the volume; a bad rule is one line on the page; the API refuses a
    post without the session's CSRF token."""
    data = tmp_path / "data"
    add_cli_user(data, "root", "admin")
    add_cli_user(data, "alice", "provider", "alpha")
    web_port = free_port()
    config = f"[web]\nenabled = true\nport = {web_port}\n[history]\nsample_s = 0.1\n"
    with hub_process(tmp_path, config) as port:
        publish(port, "alice", "alpha")
        base = f"http://127.0.0.1:{web_port}"
        wait = WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException,))
        browser.get(base + "/login")
        browser.find_element(By.ID, "user").send_keys("root")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda d: not d.current_url.endswith("/login"))
        browser.get(base + "/channels/alpha")
        wait.until(lambda d: "growth" in d.find_element(By.ID, "figures").text)
        rules = browser.find_element(By.ID, "rules")
        rules.clear()
        rules.send_keys('sizing = "lots"')
        browser.find_element(By.ID, "run").click()
        wait.until(lambda d: "sizing" in d.find_element(By.ID, "sim-status").text)
        rules.clear()
        rules.send_keys("multiplier = 2")
        browser.find_element(By.ID, "run").click()
        wait.until(lambda d: "ends with" in d.find_element(By.ID, "sim-figures").text)
        shown = browser.find_element(By.ID, "sim-figures").text
        # 0.2 lots: +500 at the first close, -200 at the second (prices the states imply)
        assert "balance 5,300 USD" in shown, shown
        assert "states 100%" in shown
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#sim-curve .main-svg"))
        browser.save_screenshot(str(tmp_path / "simulate.png"))
        if os.environ.get("TRADEWIRE_SCREENSHOTS"):  # docs/simulate.md's picture
            browser.save_screenshot(str(Path(__file__).parents[2] / "docs" / "simulate.png"))
        cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
        forged = httpx.post(
            base + "/api/channels/alpha/simulate", json={"deposit": 5000}, cookies=cookies
        )
        assert forged.status_code == 403 and "CSRF" in forged.text


def test_a_follower_logs_in_to_the_pages_of_its_channels(
    tmp_path: Path,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    """Followers log in to the web side with their hub user and see the channels they may
    read, with the simulator; not other channels, not the admins' dashboard. A worker is
    refused. Access is taken back at once when the user is disabled."""
    data = tmp_path / "data"
    add_cli_user(data, "alice", "provider", "alpha")
    add_cli_user(data, "carol", "provider", "beta")
    add_cli_user(data, "bob", "follower", "alpha")
    add_cli_user(data, "wendy", "worker")
    web_port = free_port()
    config = f"[web]\nenabled = true\nport = {web_port}\n[history]\nsample_s = 0.1\n"
    with hub_process(tmp_path, config) as port:
        publish(port, "alice", "alpha")
        publish(port, "carol", "beta")
        base = f"http://127.0.0.1:{web_port}"
        wait = WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException,))

        def log_in(user: str) -> None:
            browser.get(base + "/login")
            browser.find_element(By.ID, "user").send_keys(user)
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "submit").click()

        log_in("wendy")
        wait.until(lambda d: "workers have no web pages" in d.find_element(By.ID, "error").text)
        log_in("bob")
        wait.until(lambda d: d.current_url.endswith("/channels"))
        assert "alpha" in browser.page_source and "beta" not in browser.page_source
        browser.find_element(By.LINK_TEXT, "alpha").click()
        wait.until(lambda d: "growth" in d.find_element(By.ID, "figures").text)
        assert browser.find_element(By.ID, "simulator").is_displayed()
        csrf = browser.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]')
        token = csrf.get_attribute("content")
        cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
        headers = {"X-CSRF-Token": token or ""}
        other = httpx.post(base + "/api/channels/beta/simulate", json={"deposit": 1000},
                           cookies=cookies, headers=headers)  # fmt: skip
        assert other.status_code == 403
        mine = httpx.post(base + "/api/channels/alpha/simulate", json={"deposit": 1000},
                          cookies=cookies, headers=headers, timeout=60)  # fmt: skip
        assert mine.status_code == 200 and mine.json()["moments"] >= 2
        for body in (b"{", b'{"deposit": -5}', b'{"deposit": 1000, "rules": "sizing = "}'):
            bad = httpx.post(base + "/api/channels/alpha/simulate", content=body,
                             cookies=cookies, headers=headers)  # fmt: skip
            assert bad.status_code == 400 and "bad simulation request" in bad.text
            assert "\n" not in bad.text.strip()
        assert httpx.get(base + "/channels/beta", cookies=cookies).status_code == 403
        assert httpx.get(base + "/api/channels/beta/stats", cookies=cookies).status_code == 403
        home = httpx.get(base + "/", cookies=cookies, follow_redirects=False)
        assert home.status_code == 303 and home.headers["Location"] == "/channels"
        assert httpx.get(base + "/api/audit", cookies=cookies).status_code == 403
        subprocess.run(
            [TRADEWIRE, "user", "disable", "bob", "--data", str(data)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        gone = httpx.get(base + "/api/channels/alpha/stats", cookies=cookies)
        assert gone.status_code == 403
