"""``tradewire user ...`` and ``tradewire ban ...``: manage the state database directly.

They work while the hub runs (SQLite WAL): a new user can log in at once; a deleted, disabled
or re-passworded user's live sessions end within about a second (``bye``, reason ``revoked``),
a withdrawn grant ends that subscription; a lifted ban reaches the hub within 5 s. Every command
is audited with the acting operating-system user (``by=os:NAME``).
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from contextlib import closing
from pathlib import Path

import click
from rich.table import Table

from tradewire.cli.common import config_option, console, data_option, fail, reports_errors
from tradewire.config import load_config
from tradewire.hub.guard import source_key
from tradewire.protocol.messages import ROLES
from tradewire.protocol.names import USER_RE, is_grant
from tradewire.store.admin import open_admin_store
from tradewire.store.passwords import Passwords

MIN_PASSWORD = 8


def _now_ms() -> int:
    return int(time.time() * 1000)


def _actor() -> str:
    """Who runs this admin command, for the audit log."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"os:uid{os.getuid()}"


def _check_channels(channels: tuple[str, ...]) -> None:
    for channel in channels:
        if not is_grant(channel):
            fail(
                f"grant {channel!r} must be a channel ([A-Za-z0-9_.-]{{1,64}}) or relay:USER "
                "(may send relay messages to USER's terminal or listener)"
            )


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail(
            "no password on stdin: pipe one line, e.g. echo 's3cret-pass' | tradewire user add ..."
        )
    if len(password) < MIN_PASSWORD:
        fail(f"the password must have at least {MIN_PASSWORD} characters")
    return password


@click.group("user")
def user_group() -> None:
    """Create, list and delete users (passwords never on the command line)."""


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="provider: publishes its channels; follower: subscribes to its channels; worker: runs "
    "job tasks; "
    "admin: everything.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="CH",
    help="A channel this user may use, or relay:USER to let it send relay messages to USER "
    "(repeat for several).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (implied when stdin is not a terminal).",
)
@data_option
@config_option
@reports_errors
def user_add(
    name: str,
    role: str,
    channels: tuple[str, ...],
    password_stdin: bool,
    data_dir: Path,
    config_path: Path | None,
) -> None:
    """Create user NAME. The password is read from stdin or prompted for, never from argv.

    Example: echo 's3cret-pass' | tradewire user add alice --role provider --channel alpha
    """
    if not USER_RE.fullmatch(name):
        fail(f"user name {name!r} must match [A-Za-z0-9_.@-]{{1,64}}")
    _check_channels(channels)
    if role in ("provider", "follower") and not channels:  # workers and admins need none
        console.print(f"[yellow]note:[/] {name} has no channel yet; add --channel to grant one")
    config = load_config(config_path)
    password = _read_password(password_stdin)
    with closing(open_admin_store(data_dir)) as db:
        db.add_user(
            name, Passwords(config.auth).hash(password), role, channels, _now_ms(), by=_actor()
        )
    console.print(
        f"created {role} [bold]{name}[/]" + (f" on {', '.join(channels)}" if channels else "")
    )


@user_group.command("list")
@data_option
@reports_errors
def user_list(data_dir: Path) -> None:
    """List users with their roles and channels."""
    with closing(open_admin_store(data_dir)) as db:
        users = db.list_users()
    table = Table("user", "role", "channels", "status")
    for user in users:
        table.add_row(
            user.name,
            user.role,
            ", ".join(user.channels) or "-",
            "disabled" if user.disabled else "active",
        )
    console.print(table if users else "no users yet: tradewire user add NAME --role ROLE")


@user_group.command("del")
@click.argument("name")
@data_option
@reports_errors
def user_del(name: str, data_dir: Path) -> None:
    """Delete user NAME and its grants; its live sessions end within a second."""
    with closing(open_admin_store(data_dir)) as db:
        db.delete_user(name, _now_ms(), by=_actor())
    console.print(f"deleted {name}")


@user_group.command("passwd")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the new password from the first line of stdin."
)
@data_option
@config_option
@reports_errors
def user_passwd(name: str, password_stdin: bool, data_dir: Path, config_path: Path | None) -> None:
    """Set a new password for NAME; sessions logged in with the old one end."""
    config = load_config(config_path)
    with closing(open_admin_store(data_dir)) as db:
        if db.get_user(name) is None:
            fail(f"no user named {name!r}")
        password = _read_password(password_stdin)
        db.change_user(
            name,
            _now_ms(),
            "user_passwd",
            by=_actor(),
            password_hash=Passwords(config.auth).hash(password),
        )
    console.print(f"changed the password of {name}")


@user_group.command("grant")
@click.argument("name")
@click.argument("channels", nargs=-1, required=True, metavar="CH...")
@data_option
@reports_errors
def user_grant(name: str, channels: tuple[str, ...], data_dir: Path) -> None:
    """Let NAME use channels CH... (or relay:USER grants; at once, also in live sessions)."""
    _change_grants(data_dir, name, "user_grant", grant=channels)


@user_group.command("revoke")
@click.argument("name")
@click.argument("channels", nargs=-1, required=True, metavar="CH...")
@data_option
@reports_errors
def user_revoke(name: str, channels: tuple[str, ...], data_dir: Path) -> None:
    """Withdraw channels CH... from NAME; live subscriptions to them end within a second."""
    _change_grants(data_dir, name, "user_revoke", revoke=channels)


def _change_grants(
    data_dir: Path,
    name: str,
    event: str,
    grant: tuple[str, ...] = (),
    revoke: tuple[str, ...] = (),
) -> None:
    _check_channels(grant + revoke)
    with closing(open_admin_store(data_dir)) as db:
        user = db.change_user(name, _now_ms(), event, by=_actor(), grant=grant, revoke=revoke)
    console.print(f"{name} may now use {', '.join(user.channels) or 'no channel'}")


def _switch_command(verb: str, disabled: bool, doc: str) -> None:
    @user_group.command(verb, help=doc)
    @click.argument("name")
    @data_option
    @reports_errors
    def switch(name: str, data_dir: Path) -> None:
        with closing(open_admin_store(data_dir)) as db:
            db.change_user(name, _now_ms(), f"user_{verb}", by=_actor(), disabled=disabled)
        console.print(f"{verb}d {name}")


_switch_command(
    "disable",
    True,
    "Stop NAME from logging in, keeping its grants; live sessions end within a second.",
)
_switch_command("enable", False, "Let a disabled user log in again.")


@click.group("ban")
def ban_group() -> None:
    """Show and lift address bans made by password-guessing protection."""


@ban_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired bans (offense history).")
@data_option
@reports_errors
def ban_list(show_all: bool, data_dir: Path) -> None:
    """List banned addresses."""
    with closing(open_admin_store(data_dir)) as db:
        bans = db.load_bans()
    now = _now_ms()
    table = Table("address", "banned for", "offenses")
    shown = 0
    for ban in sorted(bans, key=lambda b: -b.until_ms):
        left = (ban.until_ms - now) / 1000
        if left <= 0 and not show_all:
            continue
        shown += 1
        table.add_row(ban.address, f"{left:.0f} s" if left > 0 else "expired", str(ban.offenses))
    console.print(table if shown else "no active bans")


@ban_group.command("lift")
@click.argument("address")
@data_option
@config_option
@reports_errors
def ban_lift(address: str, data_dir: Path, config_path: Path | None) -> None:
    """Lift the ban of ADDRESS: an address or a banned network as `ban list` shows it, such
    as 2001:db8:1:2::/64 (a running hub applies it within 5 seconds)."""
    ban = load_config(config_path).ban
    source = source_key(address, ban.ipv4_prefix, ban.ipv6_prefix)
    with closing(open_admin_store(data_dir)) as db:
        lifted = db.lift_ban(address, _now_ms(), by=_actor()) or (
            source != address and db.lift_ban(source, _now_ms(), by=_actor())
        )
    if not lifted:
        fail(f"{address} is not banned (see `tradewire ban list`)")
    console.print(f"lifted the ban of {address if source == address else source}")
