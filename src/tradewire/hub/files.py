"""``file_put`` / ``file_get`` / ``file_list``: files distributed through the hub.

Reads and writes run on the store's writer thread, never on the event loop. A put is
acknowledged (``ack`` with ``seq`` = the new version) only once it is committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tradewire.clock import now_ms
from tradewire.config import file_limit
from tradewire.exceptions import UserError
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.legacy import template_header_problem
from tradewire.protocol.messages import (
    Ack,
    FileData,
    FileGet,
    FileInfo,
    FileList,
    FileListing,
    FilePut,
)
from tradewire.store.files import get_file_op, list_files_op, put_file_op

if TYPE_CHECKING:
    from tradewire.hub.connection import Connection
    from tradewire.hub.server import Hub

log = logging.getLogger(__name__)


class FileService:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.limit = file_limit(hub.config)

    def put(self, conn: Connection, frame: FilePut) -> None:
        assert conn.user is not None
        user = conn.user
        if user.role not in ("provider", "admin"):
            self._hub.forbidden(conn, "only providers and admins may store files", frame.id)
            return
        template = self._hub.config.listeners.template
        if frame.name == template.name and user.role != "admin":
            # Served without authentication to every terminal that asks: only an admin
            # decides what it is (whether or not the listener is enabled right now).
            self._hub.forbidden(
                conn,
                f"{frame.name!r} is the file the chart-template "
                "listener serves: only an admin may store it",
                frame.id,
            )
            return
        if len(frame.data) > self.limit:
            conn.send(
                error_line(
                    "file_too_large",
                    f"{len(frame.data)} bytes; the hub stores files of at most {self.limit} bytes",
                    frame.id,
                )
            )
            return
        if template.enabled and frame.name == template.name:
            problem = template_header_problem(frame.meta)
            if problem is not None:
                conn.send(
                    error_line(
                        "bad_frame",
                        f"{frame.name} is served as the chart template: {problem}",
                        frame.id,
                    )
                )
                return

        def stored(result: object) -> None:
            if isinstance(result, UserError):
                self._hub.forbidden(conn, str(result), frame.id)
            elif isinstance(result, FileInfo):
                log.info(
                    "file %s v%d stored by %s (%d bytes)",
                    result.name,
                    result.version,
                    user.name,
                    result.size,
                )
                conn.send(encode(Ack(re=frame.id, seq=result.version)))
            else:
                log.error("file %s not stored: %s", frame.name, result)
                conn.send(error_line("internal", "file not stored; storage unavailable", frame.id))

        self._hub.writer.submit(
            put_file_op(
                frame.name,
                frame.data,
                frame.meta,
                user.name,
                user.role == "admin",
                now_ms(self._hub.clock),
                self._hub.config.files.keep_versions,
            ),
            stored,
        )

    def get(self, conn: Connection, frame: FileGet) -> None:
        def found(result: object) -> None:
            if isinstance(result, FileData):
                conn.send(
                    encode(
                        FileData(
                            name=result.name,
                            version=result.version,
                            data=result.data,
                            sha256=result.sha256,
                            ts=result.ts,
                            meta=result.meta,
                            re=frame.id,
                        )
                    )
                )
            elif result is None:
                which = f" version {frame.version}" if frame.version is not None else ""
                conn.send(error_line("not_found", f"no file {frame.name!r}{which}", frame.id))
            else:
                conn.send(error_line("internal", "file store unavailable", frame.id))

        self._hub.writer.submit(get_file_op(frame.name, frame.version), found)

    def list(self, conn: Connection, frame: FileList) -> None:
        def listed(result: object) -> None:
            if isinstance(result, list):
                conn.send(encode(FileListing(files=result, re=frame.id)))
            else:
                conn.send(error_line("internal", "file store unavailable", frame.id))

        self._hub.writer.submit(list_files_op, listed)

    async def latest(self, name: str) -> FileData | None:
        """The newest version of ``name`` (the template listener's read)."""
        return await self._hub.writer.call(lambda: self._hub.db.run(get_file_op(name)))
