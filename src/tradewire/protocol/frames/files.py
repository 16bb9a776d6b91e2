"""Stored files: put, get, list, and their answers."""

from __future__ import annotations

import msgspec

from tradewire.model import Int64
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId
from tradewire.protocol.names import is_channel, is_finite

MetaValue = str | int | float | bool


class FilePut(Frame, frozen=True, tag="file_put"):
    """Store a new version of file ``name`` (providers and admins). ``data`` is base64 in JSON."""

    name: str
    data: bytes
    meta: dict[str, MetaValue] = {}
    id: RequestId = None


class FileGet(Frame, frozen=True, tag="file_get"):
    """Fetch the latest version of ``name``, or ``version`` when given."""

    name: str
    version: Int64 | None = None
    id: RequestId = None


class FileList(Frame, frozen=True, tag="file_list"):
    id: RequestId = None


class FileInfo(msgspec.Struct, frozen=True):
    name: str
    version: int
    size: int
    sha256: str
    ts: int
    user: str
    meta: dict[str, MetaValue] = {}


class FileData(Frame, frozen=True, tag="file"):
    """The answer to ``file_get``: the bytes (base64 in JSON), their SHA-256 and metadata."""

    name: str
    version: int
    data: bytes
    sha256: str
    ts: int
    meta: dict[str, MetaValue] = {}
    re: RequestId = None


class FileListing(Frame, frozen=True, tag="files"):
    """The answer to ``file_list``: the latest version of every stored file."""

    files: list[FileInfo]
    re: RequestId = None


MAX_META_KEYS = 32
MAX_META_TEXT = 256


def file_problem(name: str, meta: dict[str, MetaValue]) -> str | None:
    """What is wrong with a file name or its metadata, or ``None``."""
    if not is_channel(name) or name.strip(".") == "":
        return "file name must match [A-Za-z0-9_.-]{1,64} and not be only dots"
    if len(meta) > MAX_META_KEYS:
        return f"meta: at most {MAX_META_KEYS} keys"
    for key, value in meta.items():
        if not is_channel(key):
            return f"meta key {key[:40]!r} must match [A-Za-z0-9_.-]{{1,64}}"
        if isinstance(value, str) and len(value) > MAX_META_TEXT:
            return f"meta.{key}: at most {MAX_META_TEXT} characters"
        if isinstance(value, float) and not is_finite(value):
            return f"meta.{key}: must be finite"
    return None


def _file_check(frame: FilePut | FileGet) -> tuple[str, str] | None:
    problem = file_problem(frame.name, frame.meta if isinstance(frame, FilePut) else {})
    return None if problem is None else ("bad_frame", problem)


FRAMES = FrameSet(
    "files",
    client=(FilePut, FileGet, FileList),
    server=(FileData, FileListing),
    checks={FilePut: _file_check, FileGet: _file_check},
)
