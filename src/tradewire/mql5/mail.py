"""``SendMail``: check the settings, queue the message, deliver it from one background thread.

``send`` returns as soon as the message is queued (MQL5: "queued for sending, not delivered").
The sender retries a failed delivery 3 times (1, 2, 4 s apart), then logs it as failed with the
reason; ``flush`` waits for the queue to empty (tests, shutdown).
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tradewire.config import SmtpSettings, secret
from tradewire.exceptions import Mql5Error
from tradewire.mql5.errors import ERR_MAIL_SEND_FAILED

log = logging.getLogger(__name__)

MAX_QUEUED = 1000
RETRY_DELAYS_S = (1.0, 2.0, 4.0)


class Mailer:
    def __init__(self, settings: SmtpSettings, tls_context: ssl.SSLContext) -> None:
        self._settings = settings
        self._tls_context = tls_context
        self._queue: queue.Queue[EmailMessage | None] = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0

    def send(self, subject: str, text: str) -> None:
        settings = self._settings
        missing = [
            key
            for key, value in (
                ("host", settings.host),
                ("from", settings.from_addr),
                ("to", settings.to),
            )
            if not value
        ]
        if not settings.enabled or missing:
            raise Mql5Error(
                ERR_MAIL_SEND_FAILED,
                "mail is not set up: [mql5.mail] needs " + (", ".join(missing) or "enabled = true"),
            )
        if "\n" in subject or "\r" in subject:
            raise ValueError("the subject must be one line")
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = settings.from_addr
        message["To"] = ", ".join(settings.to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain="tradewire")
        message.set_content(text)
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            raise Mql5Error(
                ERR_MAIL_SEND_FAILED,
                f"{MAX_QUEUED} messages are waiting; the SMTP server is not taking mail",
            ) from None
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tradewire-mail", daemon=True
                )
                self._thread.start()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued message was delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self._deliver_with_retries(message)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _deliver_with_retries(self, message: EmailMessage) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            try:
                self._deliver(message)
                self.delivered += 1
                return
            except (OSError, smtplib.SMTPException) as exc:
                if delay is None:
                    self.failed += 1
                    log.error(
                        "mail %r not delivered after %d attempts: %s",
                        message["Subject"],
                        attempt,
                        exc,
                    )
                    return
                log.warning("mail delivery failed (%s); retrying in %g s", exc, delay)
                time.sleep(delay)

    def _deliver(self, message: EmailMessage) -> None:
        s = self._settings
        smtp = (
            smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self._tls_context)
            if s.security == "tls"
            else smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        )
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=self._tls_context)
            if s.login:
                smtp.login(s.login, secret(s.password, s.password_env))
            smtp.send_message(message)
