"""``NetworkContext``: what one MQL5 program owns — the user's settings (read-only), its open
sockets, its web session, its mail queue, its notification budget and its last error (per
thread). The facade's functions are thin wrappers over one of these."""

from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tradewire.allowlist import AllowList
from tradewire.clock import Clock, SystemClock
from tradewire.config import Mql5Settings, load_config
from tradewire.mql5.ftp import send_ftp
from tradewire.mql5.mail import Mailer
from tradewire.mql5.notify import Notifier
from tradewire.mql5.sockets import SocketTable

if TYPE_CHECKING:
    from tradewire.mql5.web import WebClient


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying client context (system CAs plus ``ca_file``), TLS 1.2 or newer."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class NetworkContext:
    def __init__(
        self,
        settings: Mql5Settings | None = None,
        clock: Clock | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.settings = settings or Mql5Settings()
        self.allow = AllowList(self.settings.allow)
        self.files_dir = (base_dir or Path.cwd()) / self.settings.files_dir
        self.tls = tls_context(self.settings.ca_file)
        self.sockets = SocketTable(self.allow, self.tls, self.settings.tls_ports)
        self.mailer = Mailer(self.settings.mail, self.tls)
        self.notifier = Notifier(self.settings.notifications, clock or SystemClock())
        self._web: WebClient | None = None
        self._errors = threading.local()

    @classmethod
    def from_config(cls, path: Path | None) -> NetworkContext:
        """The ``[mql5]`` section of a tradewire config file; relative paths in it (the files
        folder) are taken from the file's folder. ``None`` gives empty settings."""
        settings = load_config(path).mql5 if path else Mql5Settings()
        return cls(settings, base_dir=path.parent if path else None)

    @classmethod
    def from_environment(cls) -> NetworkContext:
        """Settings from the file named by ``TRADEWIRE_CONFIG``, else empty (nothing allowed)."""
        named = os.environ.get("TRADEWIRE_CONFIG")
        return cls.from_config(Path(named) if named else None)

    @property
    def web(self) -> WebClient:
        if self._web is None:
            from tradewire.mql5.web import WebClient  # httpx loads on the first WebRequest

            self._web = WebClient(self.allow, self.tls)
        return self._web

    @property
    def last_error(self) -> int:
        return int(getattr(self._errors, "code", 0))

    @last_error.setter
    def last_error(self, code: int) -> None:
        self._errors.code = code

    def send_ftp(self, filename: str, ftp_path: str | None) -> None:
        send_ftp(self.settings.ftp, self.files_dir, filename, ftp_path)

    def close(self) -> None:
        """Close every socket, deliver queued mail (up to 10 s), end the web session."""
        self.sockets.close_all()
        self.mailer.close()
        if self._web is not None:
            self._web.close()

    def __enter__(self) -> NetworkContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
