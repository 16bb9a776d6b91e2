"""The [mql5] allow-list: which entries cover which socket targets and URLs."""

from __future__ import annotations

import pytest

from tradewire.allowlist import AllowList
from tradewire.exceptions import Mql5Error


def allowed_socket(entries: list[str], host: str, port: int) -> bool:
    try:
        AllowList(entries).check_socket(host, port)
        return True
    except Mql5Error as exc:
        assert exc.code == 5272 and f"{host}:{port}" in exc.detail
        return False


def allowed_url(entries: list[str], url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        AllowList(entries).check_url(parts.scheme, parts.hostname or "", parts.port, parts.path)
        return True
    except Mql5Error as exc:
        assert exc.code == 4014
        return False


@pytest.mark.parametrize(
    ("entries", "host", "port", "expected"),
    [
        (["api.example.com"], "API.example.com", 9000, True),
        (["api.example.com:8081"], "api.example.com", 8081, True),
        (["api.example.com:8081"], "api.example.com", 8082, False),
        (["example.com"], "api.example.com", 80, False),  # no implicit subdomains
        (["10.0.0.0/8"], "10.1.2.3", 1, True),
        (["10.0.0.0/8"], "11.1.2.3", 1, False),
        (["[::1]:80"], "::1", 80, True),
        (["127.0.0.1"], "localhost", 80, False),  # names are matched as written, no DNS
        (["https://api.example.com/v1/"], "api.example.com", 443, True),
        (["https://api.example.com/v1/"], "api.example.com", 80, False),
        ([], "127.0.0.1", 80, False),
    ],
)
def test_socket_targets(entries: list[str], host: str, port: int, expected: bool) -> None:
    assert allowed_socket(entries, host, port) is expected


@pytest.mark.parametrize(
    ("entries", "url", "expected"),
    [
        (["https://api.example.com/v1/"], "https://api.example.com/v1/orders", True),
        (["https://api.example.com/v1/"], "https://api.example.com/v2/orders", False),
        (["https://api.example.com/v1/"], "http://api.example.com/v1/orders", False),
        (["https://api.example.com"], "https://api.example.com:8443/", False),
        (["api.example.com"], "http://api.example.com/anything", True),
        (["api.example.com:8080"], "http://api.example.com/", False),
        (["127.0.0.1"], "http://127.0.0.1:5000/x", True),
    ],
)
def test_urls(entries: list[str], url: str, expected: bool) -> None:
    assert allowed_url(entries, url) is expected


@pytest.mark.parametrize(
    "entry", ["", "two words", "host:0", "host:x", "ftp://h/", "https://", "bad_host!"]
)
def test_bad_entries(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowList([entry])
