"""The native listener over TLS with a certificate made by trustme."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from tests.conftest import HubFactory, Raw, make_config
from tradewire.config import TlsSettings


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_settings(ca: trustme.CA, tmp_path: Path) -> TlsSettings:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return TlsSettings(cert=str(cert_path), key=str(key_path))


async def test_login_and_ping_over_tls(
    start_hub: HubFactory, ca: trustme.CA, tls_settings: TlsSettings
) -> None:
    hub = await start_hub(make_config(tls=tls_settings))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    raw = await Raw.connect(hub, ssl=context, server_hostname="localhost")
    assert (await raw.login("bob"))["t"] == "welcome"
    raw.send({"t": "ping", "id": 1})
    assert (await raw.recv()).items() >= {"t": "pong", "re": 1}.items()
    assert raw.writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    # The parallel fan-out writes plain sockets only: a TLS session goes through its transport.
    assert [c.direct_fd() for c in hub.connections if c.user is not None] == [-1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TLS 1.1 on purpose
async def test_tls_below_1_2_is_refused(
    start_hub: HubFactory, ca: trustme.CA, tls_settings: TlsSettings
) -> None:
    hub = await start_hub(make_config(tls=tls_settings))
    server_context = hub.tls_context
    assert server_context is not None
    assert server_context.minimum_version == ssl.TLSVersion.TLSv1_2
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client really offer TLS 1.1
    context.minimum_version = ssl.TLSVersion.TLSv1_1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        await Raw.connect(hub, ssl=context, server_hostname="localhost")


async def test_plaintext_to_the_tls_port_fails_cleanly(
    start_hub: HubFactory, tls_settings: TlsSettings
) -> None:
    hub = await start_hub(make_config(tls=tls_settings))
    raw = await Raw.connect(hub)
    raw.send({"t": "hello", "v": 1, "user": "bob", "password": "x"})
    assert await raw.closed()
    assert not any(c.user for c in hub.connections)
