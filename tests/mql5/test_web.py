"""WebRequest against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.mql5.conftest import Http
from tradewire.mql5 import (
    ERR_FUNCTION_NOT_ALLOWED,
    ERR_INVALID_PARAMETER,
    ERR_WEBREQUEST_CONNECT_FAILED,
    ERR_WEBREQUEST_INVALID_ADDRESS,
    ERR_WEBREQUEST_TIMEOUT,
    GetLastError,
    NetworkContext,
    ResetLastError,
    StringToCharArray,
    WebRequest,
)

MakeContext = Callable[..., NetworkContext]


def test_form1_posts_urlencoded_with_cookie_and_referer(
    make_context: MakeContext, http_server: Http
) -> None:
    make_context(allow=[http_server.base + "/"])
    data = StringToCharArray("symbol=EURUSD&lots=0.10")
    result = bytearray(b"old")
    status, headers = WebRequest(
        "POST", http_server.base + "/echo", "a=1", "http://ref/", 5000, data, len(data) - 1, result
    )
    assert status == 200
    assert "Content-Type: application/json" in headers and headers.endswith("\r\n")
    echoed = json.loads(result)
    assert echoed["body"] == "symbol=EURUSD&lots=0.10"
    sent = echoed["headers"]
    assert sent["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["Cookie"] == "a=1" and sent["Referer"] == "http://ref/"
    assert sent["Accept"] == "*/*" and sent["User-Agent"].startswith("tradewire-mql5/")


def test_form2_sends_raw_headers_and_replaces_user_agent(
    make_context: MakeContext, http_server: Http
) -> None:
    make_context(allow=["127.0.0.1"])
    result = bytearray()
    status, _ = WebRequest(
        "POST",
        http_server.base + "/echo",
        "Content-Type: application/json\r\nUser-Agent: MyEA/1.0",
        5000,
        b'{"x":1}',
        result,
    )
    assert status == 200
    echoed = json.loads(result)
    assert echoed["body"] == '{"x":1}'
    assert echoed["headers"]["User-Agent"] == "MyEA/1.0"
    assert echoed["headers"]["Content-Type"] == "application/json"


def test_http_errors_are_results_not_mql5_errors(
    make_context: MakeContext, http_server: Http
) -> None:
    make_context(allow=["127.0.0.1"])
    ResetLastError()
    result = bytearray()
    assert WebRequest("GET", http_server.base + "/missing", "", 5000, b"", result).status == 404
    assert result == b"not here" and GetLastError() == 0
    assert WebRequest("GET", http_server.base + "/nowhere", "", 5000, b"", result).status == 500


def test_redirects_followed_and_cookies_sent_back(
    make_context: MakeContext, http_server: Http
) -> None:
    make_context(allow=["127.0.0.1"])
    result = bytearray()
    assert WebRequest("GET", http_server.base + "/moved", "", 5000, b"", result).status == 200
    assert json.loads(result)["path"] == "/echo"
    assert WebRequest("GET", http_server.base + "/login", "", 5000, b"", result).status == 200
    assert json.loads(result)["headers"].get("Cookie") == "session=abc123"
    assert WebRequest("GET", http_server.base + "/echo", "", 5000, b"", result).status == 200
    assert json.loads(result)["headers"].get("Cookie") == "session=abc123"  # kept per site


def test_timeout_is_minus_one_and_5202(make_context: MakeContext, http_server: Http) -> None:
    make_context(allow=["127.0.0.1"])
    result = bytearray(b"untouched")
    started = time.monotonic()
    assert WebRequest("GET", http_server.base + "/slow", "", 300, b"", result).status == -1
    assert time.monotonic() - started < 1.5
    assert GetLastError() == ERR_WEBREQUEST_TIMEOUT
    assert result == b"untouched"


def test_unlisted_url_never_reaches_the_server(
    make_context: MakeContext, http_server: Http
) -> None:
    make_context(allow=[http_server.base + "/api/"])
    ResetLastError()
    result = bytearray()
    assert WebRequest("GET", http_server.base + "/echo", "", 5000, b"", result).status == -1
    assert GetLastError() == ERR_FUNCTION_NOT_ALLOWED
    assert http_server.requests == []


def test_redirect_to_an_unlisted_site_is_refused(
    make_context: MakeContext, http_server: Http
) -> None:
    make_context(allow=[http_server.base + "/moved"])  # /echo is not covered
    ResetLastError()
    assert WebRequest("GET", http_server.base + "/moved", "", 5000, b"", bytearray()).status == -1
    assert GetLastError() == ERR_FUNCTION_NOT_ALLOWED
    assert [r["path"] for r in http_server.requests] == ["/moved"]


def test_bad_addresses_and_arguments(make_context: MakeContext, http_server: Http) -> None:
    make_context(allow=["127.0.0.1"])
    cases = [
        (("GET", "ftp://127.0.0.1/x", "", 1000, b"", bytearray()), ERR_WEBREQUEST_INVALID_ADDRESS),
        (
            ("GET", "http://127.0.0.1/" + "a" * 1100, "", 1000, b"", bytearray()),
            ERR_WEBREQUEST_INVALID_ADDRESS,
        ),
        (("GET", "not a url", "", 1000, b"", bytearray()), ERR_WEBREQUEST_INVALID_ADDRESS),
        (
            ("GET", http_server.base + "/echo", "no colon here", 1000, b"", bytearray()),
            ERR_INVALID_PARAMETER,
        ),
        (("GET", http_server.base + "/echo", "", 0, b"", bytearray()), ERR_INVALID_PARAMETER),
        (("GET", "http://127.0.0.1:1/", "", 1000, b"", bytearray()), ERR_WEBREQUEST_CONNECT_FAILED),
    ]
    for args, code in cases:
        ResetLastError()
        assert WebRequest(*args).status == -1, args
        assert GetLastError() == code, args
    assert http_server.requests == []
