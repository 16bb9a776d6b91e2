"""SendFTP against pyftpdlib, SendMail against aiosmtpd, SendNotification through apprise to a
JSON webhook — all real servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from tests.mql5.conftest import Http
from tradewire.clock import ManualClock
from tradewire.config import Mql5Settings, parse_section
from tradewire.mql5 import (
    ERR_FTP_CHANGEDIR,
    ERR_FTP_CONNECT_FAILED,
    ERR_FTP_FILE_ERROR,
    ERR_FTP_NOLOGIN,
    ERR_FTP_NOSERVER,
    ERR_INVALID_PARAMETER,
    ERR_MAIL_SEND_FAILED,
    ERR_NOTIFICATION_TOO_FREQUENT,
    ERR_NOTIFICATION_WRONG_PARAMETER,
    ERR_NOTIFICATION_WRONG_SETTINGS,
    GetLastError,
    NetworkContext,
    ResetLastError,
    SendFTP,
    SendMail,
    SendNotification,
    use_context,
)

MakeContext = Callable[..., NetworkContext]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ftp_root(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    root = tmp_path / "ftp-root"
    (root / "reports").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user("trader", "s3cret-pass", str(root), perm="elradfmw")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    yield server.address[1], root
    server.close_all()
    thread.join(5)


def ftp_settings(port: int, /, **overrides: Any) -> dict[str, Any]:
    base = {
        "host": "127.0.0.1",
        "port": port,
        "login": "trader",
        "password": "s3cret-pass",
        "path": "/reports",
        "timeout_s": 5.0,
    }
    return {"ftp": base | overrides}


def test_send_ftp_uploads_into_the_configured_path(
    make_context: MakeContext, ftp_root: tuple[int, Path]
) -> None:
    port, root = ftp_root
    context = make_context(**ftp_settings(port))
    context.files_dir.mkdir(parents=True)
    (context.files_dir / "report.csv").write_bytes(b"ticket,profit\n1,10.5\n")
    assert SendFTP("report.csv"), GetLastError()
    assert (root / "reports" / "report.csv").read_bytes() == b"ticket,profit\n1,10.5\n"
    assert SendFTP("report.csv", "/")  # an explicit path wins over the configured one
    assert (root / "report.csv").is_file()


def test_send_ftp_errors(make_context: MakeContext, ftp_root: tuple[int, Path]) -> None:
    port, _ = ftp_root
    context = make_context(**ftp_settings(port))
    context.files_dir.mkdir(parents=True)
    (context.files_dir / "a.txt").write_text("a")
    cases = [
        (lambda: SendFTP("missing.txt"), ERR_FTP_FILE_ERROR),
        (lambda: SendFTP("a.txt", "/no/such/dir"), ERR_FTP_CHANGEDIR),
        (lambda: SendFTP("../outside.txt"), ERR_INVALID_PARAMETER),
    ]
    for call, code in cases:
        ResetLastError()
        assert not call()
        assert GetLastError() == code
    for overrides, code in (
        ({"password": "wrong"}, ERR_FTP_NOLOGIN),
        ({"port": free_port()}, ERR_FTP_CONNECT_FAILED),
        ({"host": ""}, ERR_FTP_NOSERVER),
    ):
        other = make_context(**ftp_settings(port, **overrides))
        other.files_dir.mkdir(parents=True, exist_ok=True)
        (other.files_dir / "a.txt").write_text("a")
        ResetLastError()
        assert not SendFTP("a.txt")
        assert GetLastError() == code, overrides


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        self.arrived.set()
        return "250 OK"


def _accept_trader(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"mail-pass"
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server(server_cert: trustme.LeafCert) -> Iterator[tuple[int, Inbox]]:
    """STARTTLS required, then AUTH, as a real provider would."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(tls)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_accept_trader,
        auth_require_tls=True,
    )
    controller.start()
    yield port, inbox
    controller.stop()


def mail_settings(port: int, /, **overrides: Any) -> dict[str, Any]:
    base = {
        "host": "localhost",
        "port": port,
        "security": "starttls",
        "login": "trader",
        "password": "mail-pass",
        "from": "ea@example.com",
        "to": ["me@example.com"],
        "timeout_s": 5.0,
    }
    return {"mail": base | overrides}


def test_send_mail_is_queued_then_delivered(
    make_context: MakeContext, smtp_server: tuple[int, Inbox]
) -> None:
    port, inbox = smtp_server
    context = make_context(**mail_settings(port))
    assert SendMail("EURUSD opened", "Bought 0.10 EURUSD at 1.08500")
    assert context.mailer.flush(10)
    assert inbox.arrived.wait(5)
    message = message_from_bytes(inbox.messages[0], policy=default)
    assert message["Subject"] == "EURUSD opened"
    assert message["To"] == "me@example.com"
    assert message.get_content().strip() == "Bought 0.10 EURUSD at 1.08500"
    assert context.mailer.delivered == 1


def test_send_mail_bad_settings(make_context: MakeContext) -> None:
    for overrides in ({"host": ""}, {"to": []}, {"from": ""}, {"enabled": False}):
        make_context(**mail_settings(25, **overrides))
        ResetLastError()
        assert not SendMail("subject", "text")
        assert GetLastError() == ERR_MAIL_SEND_FAILED
    make_context(**mail_settings(25))
    ResetLastError()
    assert not SendMail("two\nlines", "text")
    assert GetLastError() == ERR_INVALID_PARAMETER


def test_send_notification_reaches_a_webhook(make_context: MakeContext, http_server: Http) -> None:
    make_context(notifications={"urls": [http_server.base.replace("http", "json") + "/hook"]})
    assert SendNotification("EURUSD buy 0.10 filled"), GetLastError()
    hook = [r for r in http_server.requests if r["path"].startswith("/hook")]
    assert len(hook) == 1
    assert json.loads(hook[0]["body"])["message"] == "EURUSD buy 0.10 filled"


def test_notification_limits_and_parameters(make_context: MakeContext, http_server: Http) -> None:
    make_context(notifications={"urls": [http_server.base.replace("http", "json") + "/hook"]})
    assert SendNotification("one") and SendNotification("two")
    ResetLastError()
    assert not SendNotification("three")  # third in one second
    assert GetLastError() == ERR_NOTIFICATION_TOO_FREQUENT
    for text in ("", "x" * 256):
        ResetLastError()
        assert not SendNotification(text)
        assert GetLastError() == ERR_NOTIFICATION_WRONG_PARAMETER
    make_context()
    ResetLastError()
    assert not SendNotification("nobody to tell")
    assert GetLastError() == ERR_NOTIFICATION_WRONG_SETTINGS
    assert len([r for r in http_server.requests if r["path"].startswith("/hook")]) == 2


def test_notification_minute_budget(http_server: Http) -> None:
    clock = ManualClock()
    settings = parse_section(
        {"notifications": {"urls": [http_server.base.replace("http", "json") + "/hook"]}},
        Mql5Settings,
        "test",
    )
    with NetworkContext(settings, clock=clock) as context:
        use_context(context)
        for _ in range(10):
            assert SendNotification("tick"), GetLastError()
            clock.advance(1.1)
        assert not SendNotification("eleventh")
        assert GetLastError() == ERR_NOTIFICATION_TOO_FREQUENT
        clock.advance(60)
        assert SendNotification("a new minute")
