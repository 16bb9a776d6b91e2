"""``tradewire files put|get|list``: distribute chart templates and other files via the hub."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from rich.table import Table

from tradewire.cli.common import (
    HubLogin,
    console,
    fail,
    hub_login,
    reports_errors,
    with_client,
)
from tradewire.protocol.codec import file_problem
from tradewire.protocol.messages import MetaValue

T = TypeVar("T")


def _meta(pairs: tuple[str, ...], symbol: str | None, period: int | None) -> dict[str, MetaValue]:
    meta: dict[str, MetaValue] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--meta {pair!r}: expected KEY=VALUE")
        meta[key] = int(value) if value.lstrip("-").isdigit() else value
    if symbol is not None:
        meta["symbol"] = symbol
    if period is not None:
        meta["period"] = period
    return meta


@click.group("files")
def files_group() -> None:
    """Store and fetch files (chart templates, presets, reports) through the hub.

    A file stored under the name set in [listeners.template] name is what the article's
    TplClient receives on port 8080; store it with --symbol and --period.
    """


@files_group.command("put")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--symbol", help="Chart symbol sent with a template (up to 10 characters).")
@click.option(
    "--period",
    type=click.IntRange(1, 43_200),
    help="Chart period in minutes sent with a template (60 = H1).",
)
@click.option(
    "--meta", "meta_pairs", multiple=True, metavar="KEY=VALUE", help="More metadata; repeatable."
)
@hub_login
@reports_errors
def put(
    name: str,
    file: Path,
    symbol: str | None,
    period: int | None,
    meta_pairs: tuple[str, ...],
    login: HubLogin,
) -> None:
    """Store FILE as a new version of NAME (providers and admins)."""
    meta = _meta(meta_pairs, symbol, period)
    problem = file_problem(name, meta)
    if problem:
        fail(problem)
    data = file.read_bytes()
    version = with_client(login, lambda c: c.put_file(name, data, meta))
    console.print(
        f"stored {name} version {version} ({len(data)} bytes, sha256 "
        f"{hashlib.sha256(data).hexdigest()[:16]}…)",
        highlight=False,
    )


@files_group.command("get")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), help="A given version (default: latest).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: NAME in the current folder).",
)
@hub_login
@reports_errors
def get(name: str, version: int | None, output: Path | None, login: HubLogin) -> None:
    """Fetch NAME and check its SHA-256."""
    found = with_client(login, lambda c: c.get_file(name, version))
    if hashlib.sha256(found.data).hexdigest() != found.sha256:
        fail(f"{name} v{found.version}: the SHA-256 does not match; nothing written")
    target = output or Path(name)
    try:
        target.write_bytes(found.data)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror}")
    console.print(
        f"wrote {target} ({name} version {found.version}, {len(found.data)} bytes)", highlight=False
    )


@files_group.command("list")
@hub_login
@reports_errors
def list_files(login: HubLogin) -> None:
    """The latest version of every stored file."""
    files = with_client(login, lambda c: c.list_files())
    table = Table("name", "version", "bytes", "stored (UTC)", "by", "meta")
    for info in files:
        stored = datetime.fromtimestamp(info.ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        meta = " ".join(f"{k}={v}" for k, v in sorted(info.meta.items()))
        table.add_row(info.name, str(info.version), str(info.size), stored, info.user, meta)
    console.print(table)
