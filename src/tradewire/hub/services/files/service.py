"""``file_put`` / ``file_get`` / ``file_list``: files distributed through the hub.

Reads and writes run on the store's writer thread, never on the event loop. A put is
acknowledged (``ack`` with ``seq`` = the new version) only once it is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import msgspec

from tradewire.config import Config, file_limit
from tradewire.exceptions import QuotaExceeded, StoreError, UserError
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.service import Handler, Session
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import files as files_frames
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
from tradewire.store.state import StateStore

log = logging.getLogger(__name__)


class FileService:
    """A hub service: ``file_put``, ``file_get``, ``file_list``."""

    frames = files_frames.FRAMES

    def __init__(
        self,
        config: Config,
        store: StateStore,
        auditor: Auditor,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self._config = config
        self._store = store
        self._auditor = auditor
        self._spawn = spawn
        self.limit = file_limit(config)

    def handlers(self) -> Mapping[str, Handler]:
        return {"file_put": self.put, "file_get": self.get, "file_list": self.list}

    def session_ended(self, session: Session) -> None:
        pass  # files outlive sessions

    def put(self, conn: Session, frame: FilePut) -> None:
        assert conn.user is not None
        user = conn.user
        if not may(user, "store_file"):
            self._auditor.forbidden(conn, "only providers and admins may store files", frame.id)
            return
        template = self._config.listeners.template
        if frame.name == template.name and not may(user, "store_served_file"):
            # Served without authentication to every terminal that asks: only an admin
            # decides what it is (whether or not the listener is enabled right now).
            self._auditor.forbidden(
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

        # A put waiting for the store counts as a reply being prepared: a client pipelining
        # puts gets no more frames read while 8 wait, so the writer's queue (each put holds its
        # data) stays bounded; unbounded, 4 connections grew the hub by 696 MiB in 5 s
        # (benchmarks/attacks.py).
        waiting: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        conn.replying(waiting)

        def stored(result: object) -> None:
            waiting.set_result(None)
            if isinstance(result, QuotaExceeded):
                self._auditor.audit("refused", user.name, conn.address, f"file quota: {result}")
                conn.send(error_line("quota_exceeded", str(result), frame.id))
            elif isinstance(result, UserError):
                self._auditor.forbidden(conn, str(result), frame.id)
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

        self._store.put_file(
            frame.name,
            frame.data,
            frame.meta,
            user.name,
            may(user, "admin"),  # admins may replace anyone's file
            self._config.files.keep_versions,
            stored,
            None if may(user, "admin") else self._config.files.max_bytes_per_user,
        )

    def get(self, conn: Session, frame: FileGet) -> None:
        conn.replying(self._spawn(self._get(conn, frame)))

    async def _get(self, conn: Session, frame: FileGet) -> None:
        try:
            found = await self._store.get_file(frame.name, frame.version)
        except StoreError:
            conn.send(error_line("internal", "file store unavailable", frame.id))
            return
        if found is None:
            which = f" version {frame.version}" if frame.version is not None else ""
            conn.send(error_line("not_found", f"no file {frame.name!r}{which}", frame.id))
            return
        conn.send(encode(msgspec.structs.replace(found, re=frame.id)))

    def list(self, conn: Session, frame: FileList) -> None:
        conn.replying(self._spawn(self._list(conn, frame)))

    async def _list(self, conn: Session, frame: FileList) -> None:
        try:
            files = await self._store.list_files()
        except StoreError:
            conn.send(error_line("internal", "file store unavailable", frame.id))
            return
        conn.send(encode(FileListing(files=files, re=frame.id)))

    async def latest(self, name: str) -> FileData | None:
        """The newest version of ``name`` (the template listener's read)."""
        return await self._store.get_file(name)
