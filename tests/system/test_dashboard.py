"""The dashboard in a real browser (Debian's chromium, driven by Selenium) against a hub
process: a wrong password refused, a channel's seq advancing live, a ban lifted, a session
kicked; an action without the CSRF token refused; no resource from outside the hub."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.needs import missing
from tests.security.hubproc import add_cli_user, hub_process

selenium = pytest.importorskip("selenium", reason="selenium is in the test extras")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

if shutil.which("chromedriver") is None:
    missing("no chromedriver: `make test` installs chromium and chromium-driver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hello(
    port: int, user: str, password: str = PASSWORD, source: str = "127.0.0.1"
) -> tuple[socket.socket, dict[str, object]]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    sock.sendall(
        json.dumps({"t": "hello", "v": 1, "user": user, "password": password}).encode() + b"\n"
    )
    return sock, json.loads(sock.makefile().readline())


def state(n: int) -> bytes:
    account = {"login": "1", "currency": "USD", "balance": 1000, "equity": 1000}
    account |= {"leverage": 100, "mode": "hedging"}
    position = {"id": "1", "symbol": "EURUSD", "side": "buy", "volume": n / 100}
    position |= {"price": 1.1, "time": 1}
    frame = {"t": "state", "ch": "alpha", "ts": int(time.time() * 1000), "id": n}
    frame |= {"account": account, "positions": [position]}
    return json.dumps(frame).encode() + b"\n"


def click_in_row(driver: webdriver.Chrome, table: str, starts: str) -> bool:
    """Click the button of the row of ``table`` whose text starts with ``starts``, inside the
    page in one step (the tables are redrawn every second: found elements go stale)."""
    return bool(
        driver.execute_script(
            "const row = [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]"
            ".find((r) => r.textContent.startsWith(arguments[1]));"
            "if (!row) return false; row.querySelector('button').click(); return true;",
            table,
            starts,
        )
    )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1800",
    ):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations included
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(shutil.which("chromedriver"))
    )
    yield driver
    driver.quit()


def test_an_admin_watches_and_acts_live(tmp_path: Path, browser: webdriver.Chrome) -> None:
    data = tmp_path / "data"
    add_cli_user(data, "root", "admin")
    add_cli_user(data, "alice", "provider")
    add_cli_user(data, "bob", "follower")
    web_port, udp_port = free_port(), free_port()
    config = (
        f"[web]\nenabled = true\nport = {web_port}\n"
        f"[listeners.udp_ticks]\nenabled = true\nport = {udp_port}\n"
    )
    with hub_process(tmp_path, config) as port:
        base = f"http://127.0.0.1:{web_port}"
        # A form posts and the page reloads: an element found just before may be gone (stale).
        wait = WebDriverWait(
            browser,
            10,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        )
        browser.get(base + "/")  # not logged in: the login page
        assert browser.current_url.endswith("/login")
        browser.find_element(By.ID, "user").send_keys("root")
        browser.find_element(By.ID, "password").send_keys("wrong-password")
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda d: "wrong user name or password" in d.find_element(By.ID, "error").text)
        browser.save_screenshot(str(tmp_path / "refused.png"))
        wait.until(lambda d: d.find_element(By.ID, "user").get_attribute("value") == "")
        browser.find_element(By.ID, "user").send_keys("root")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda d: d.find_element(By.ID, "status").text == "live")
        # nobody has reported: no empty latency axes; the page has an icon (no favicon 404)
        assert not browser.find_element(By.ID, "latency").is_displayed()
        assert not browser.find_element(By.ID, "price").is_displayed()  # no ticks: no bare axes
        icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
        assert icon is not None and icon.startswith("data:image/svg+xml")

        # A provider publishes: the seq advances on the page without a reload.
        stop = threading.Event()
        alice, _ = hello(port, "alice")

        def publish() -> None:
            n = 1
            while not stop.is_set():
                alice.sendall(state(n))
                n += 1
                time.sleep(0.3)

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        try:

            def seq() -> int:
                # read in the page itself: the tables are redrawn every second
                text = browser.execute_script(
                    "const c = document.querySelector('#channels td.seq');"
                    "return c ? c.textContent : '';"
                )
                return int(text) if text else 0

            wait.until(lambda d: seq() >= 2)
            first = seq()
            wait.until(lambda d: seq() > first + 2)
        finally:
            stop.set()
            publisher.join()

        # UDP ticks at about 20 a second: the Ticks panel counts them and says how fast.
        sending = threading.Event()

        def send_ticks() -> None:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            while not sending.is_set():
                udp.sendto(b"EURUSD 1.10410", ("127.0.0.1", udp_port))
                time.sleep(0.05)
            udp.close()

        def per_second() -> float:
            text = browser.execute_script(
                "const r = [...document.querySelectorAll('#ticks tbody tr')]"
                ".find((tr) => tr.cells[0].textContent === 'EURUSD');"
                "return r ? r.cells[2].textContent : '';"
            )
            return float(text) if text else 0.0

        ticker = threading.Thread(target=send_ticks, daemon=True)
        ticker.start()
        try:
            wait.until(lambda d: per_second() >= 5.0)
            assert browser.find_element(By.ID, "price").is_displayed()
        finally:
            sending.set()
            ticker.join()

        # Five wrong passwords from 127.0.0.2 ban it; the admin lifts the ban.
        for _ in range(5):
            sock, answer = hello(port, "bob", "guess-guess", source="127.0.0.2")
            sock.close()
        sock, answer = hello(port, "bob", source="127.0.0.2")
        assert answer["code"] == "banned"
        sock.close()
        wait.until(lambda d: "127.0.0.2" in d.find_element(By.ID, "bans").text)
        browser.save_screenshot(str(tmp_path / "banned.png"))
        wait.until(lambda d: click_in_row(d, "bans", "127.0.0.2"))
        wait.until(lambda d: "127.0.0.2" not in d.find_element(By.ID, "bans").text)
        sock, answer = hello(port, "bob", source="127.0.0.2")
        assert answer["t"] == "welcome"

        # The audit log, filtered by the start of an event and an address, times readable.
        browser.find_element(By.ID, "audit-event").send_keys("ban")
        browser.find_element(By.ID, "audit-address").send_keys("127.0.0")
        browser.find_element(By.ID, "audit-load").click()
        wait.until(lambda d: "ban_lift" in d.find_element(By.ID, "audit").text)
        audit = browser.find_element(By.ID, "audit").text
        assert "ban " in audit and "login" not in audit  # ban and ban_lift, nothing else
        assert re.search(r"until=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", audit), audit
        assert not re.search(r"until_ms=\d", audit)
        browser.save_screenshot(str(tmp_path / "audit.png"))
        cookie = browser.get_cookie("tw_dashboard")
        assert cookie is not None
        pages, older = [], None
        while True:  # paged by id, two a page: every failed login once, newest first
            query = {"event": "login_failed", "limit": "2", **({"before": older} if older else {})}
            page = httpx.get(
                base + "/api/audit", params=query, cookies={"tw_dashboard": cookie["value"]}
            ).json()
            pages.append([row["id"] for row in page["rows"]])
            older = page["older"]
            if older is None:
                break
        ids = [i for p in pages for i in p]
        # the dashboard's wrong password, then bob's five
        assert len(ids) == 6 and ids == sorted(ids, reverse=True) and len(pages) == 3

        # A follower reports its copy quality: the operator sees it.
        report = {"t": "follower_report", "ch": "alpha", "in_sync": True, "fills": 4}
        sock.sendall(json.dumps({**report, "latency_hist": [0, 3, 1]}).encode() + b"\n")
        wait.until(lambda d: "in sync" in d.find_element(By.ID, "followers").text)
        time.sleep(1.2)  # one more update: the histogram drawn
        overflowing = browser.execute_script(
            "return [...document.querySelectorAll('section')]"
            ".filter((x) => x.scrollWidth > x.clientWidth + 1).map((x) => x.querySelector('h2')"
            ".textContent);"
        )
        assert overflowing == [], overflowing  # charts shown late are fitted to their cards
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        if os.environ.get("TRADEWIRE_SCREENSHOTS"):  # the README's picture, on demand
            browser.save_screenshot(str(Path(__file__).parents[2] / "docs" / "dashboard.png"))

        # The admin kicks bob's session: bob is told.
        wait.until(lambda d: "bob" in d.find_element(By.ID, "sessions").text)
        rows = browser.find_element(By.ID, "sessions").text
        assert re.search(r"bob follower 127\.0\.0\.2 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w{8}", rows)
        wait.until(lambda d: click_in_row(d, "sessions", "bob"))
        lines = sock.makefile().readline()
        assert json.loads(lines) == {"t": "bye", "reason": "kicked"}

        # No resource from outside the hub: the page works offline.
        assert not re.search(r"""(src|href)=["']https?://""", browser.page_source)
        # An action without the CSRF token is refused, even with the session cookie.
        cookie = browser.get_cookie("tw_dashboard")
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        forged = httpx.post(
            base + "/api/session/kick",
            json={"session": "x"},
            cookies={"tw_dashboard": cookie["value"]},
        )
        assert forged.status_code == 403 and "CSRF" in forged.text
        assert httpx.get(base + "/events").status_code == 403  # no session, no data
        # Protective headers on every response (the page above worked under them), and a body
        # that is not a JSON object is a 400 saying so, not a 500.
        page = httpx.get(base + "/login")
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        token = browser.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]')
        for path in ("/api/session/kick", "/api/ban/lift"):
            broken = httpx.post(
                base + path,
                content=b"{not json",
                headers={"X-CSRF-Token": token.get_attribute("content") or ""},
                cookies={"tw_dashboard": cookie["value"]},
            )
            assert broken.status_code == 400 and "JSON object" in broken.text, broken.text
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not [e for e in severe if "Content Security Policy" in e["message"]], severe
