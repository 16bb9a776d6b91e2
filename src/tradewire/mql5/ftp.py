"""``SendFTP``: upload one file from the program's files folder with the user's FTP settings."""

from __future__ import annotations

import ftplib
from pathlib import Path

from tradewire.config import FtpSettings, secret
from tradewire.exceptions import Mql5Error
from tradewire.mql5.errors import (
    ERR_FTP_CHANGEDIR,
    ERR_FTP_CONNECT_FAILED,
    ERR_FTP_FILE_ERROR,
    ERR_FTP_NOLOGIN,
    ERR_FTP_NOSERVER,
)


def files_path(files_dir: Path, filename: str) -> Path:
    """``filename`` inside the files folder; refuses names that climb out of it."""
    if not filename or Path(filename).is_absolute():
        raise ValueError(f"{filename!r} is not a file name relative to the files folder")
    path = (files_dir / filename).resolve()
    if not path.is_relative_to(files_dir.resolve()):
        raise ValueError(f"{filename!r} is outside the files folder")
    return path


def send_ftp(settings: FtpSettings, files_dir: Path, filename: str, ftp_path: str | None) -> None:
    if not settings.enabled or not settings.host:
        raise Mql5Error(ERR_FTP_NOSERVER, "no FTP server is set in [mql5.ftp]")
    local = files_path(files_dir, filename)
    if not local.is_file():
        raise Mql5Error(ERR_FTP_FILE_ERROR, f"{filename} is not in the files folder {files_dir}")
    ftp = ftplib.FTP(timeout=settings.timeout_s)
    try:
        try:
            ftp.connect(settings.host, settings.port)
        except OSError as exc:
            raise Mql5Error(
                ERR_FTP_CONNECT_FAILED, f"cannot reach {settings.host}:{settings.port}: {exc}"
            ) from exc
        try:
            ftp.login(settings.login, secret(settings.password, settings.password_env))
        except ftplib.error_perm as exc:
            raise Mql5Error(ERR_FTP_NOLOGIN, f"login as {settings.login!r} refused: {exc}") from exc
        ftp.set_pasv(settings.passive)
        remote_dir = ftp_path or settings.path
        try:
            ftp.cwd(remote_dir)
        except ftplib.error_perm as exc:
            raise Mql5Error(ERR_FTP_CHANGEDIR, f"remote folder {remote_dir!r}: {exc}") from exc
        with local.open("rb") as fh:
            ftp.storbinary(f"STOR {local.name}", fh)
        ftp.quit()
    finally:
        ftp.close()
