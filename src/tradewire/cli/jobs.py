"""``tradewire jobs submit|status|results|cancel|sweep`` and ``tradewire worker``: shared
computation through a running hub (docs/jobs.md)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradewire.cli.common import HubLogin, console, fail, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.clients.jobs import JobClient
from tradewire.clients.worker import Worker
from tradewire.jobs.registry import set_data_root
from tradewire.jobs.sweep import backtest, grid
from tradewire.protocol.messages import JobInfo, TaskOutcome


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


async def _follow(jobs: JobClient, job: str) -> JobInfo:
    with _progress() as progress:
        bar = progress.add_task(f"job {job}", total=None)

        def show(info: JobInfo) -> None:
            progress.update(bar, total=info.n, completed=info.done + info.failed)

        return await jobs.wait(job, show)


@click.group("jobs")
def jobs_group() -> None:
    """Submit work that workers (tradewire worker) run, and follow it (docs/jobs.md)."""


@jobs_group.command("submit")
@click.argument("fn", metavar="MODULE:FUNCTION")
@click.option(
    "--tasks",
    "tasks_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="One JSON payload per line: one task each.",
)
@click.option("--max-attempts", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--lease-s", type=click.FloatRange(1, 3600), default=30.0, show_default=True)
@click.option("--wait", is_flag=True, help="Show a progress bar until every task is finished.")
@hub_login
@reports_errors
def jobs_submit(
    fn: str,
    tasks_file: Path,
    max_attempts: int,
    lease_s: float,
    wait: bool,
    login: HubLogin,
) -> None:
    """Submit a job running MODULE:FUNCTION once per payload; prints the job id."""
    payloads: list[Any] = []
    for number, line in enumerate(tasks_file.read_text().splitlines(), 1):
        if line.strip():
            try:
                payloads.append(msgspec.json.decode(line))
            except msgspec.DecodeError as exc:
                fail(f"{tasks_file}:{number}: not JSON ({exc})")
    if not payloads:
        fail(f"{tasks_file} holds no task (one JSON payload per line)")

    async def action(client: HubClient) -> tuple[str, JobInfo | None]:
        jobs = JobClient(client)
        job = await jobs.submit(fn, payloads, max_attempts, lease_s)
        return job, (await _follow(jobs, job) if wait else None)

    job, info = with_client(login, action)
    click.echo(job)
    if info is not None:
        console.print(f"{info.status}: {info.done} done, {info.failed} failed of {info.n}")


@jobs_group.command("status")
@click.argument("job")
@hub_login
@reports_errors
def jobs_status(
    job: str,
    login: HubLogin,
) -> None:
    """Progress of JOB: done, failed, leased, of how many."""

    async def action(client: HubClient) -> JobInfo:
        return await JobClient(client).status(job)

    info = with_client(login, action)
    console.print(
        f"{info.job} {info.fn}: {info.status}; {info.done} done, {info.failed} failed, "
        f"{info.leased} running, of {info.n}"
    )


@jobs_group.command("results")
@click.argument("job")
@hub_login
@reports_errors
def jobs_results(
    job: str,
    login: HubLogin,
) -> None:
    """Print each finished task of JOB as a JSON line {"task","ok","value"|"error","attempts"}."""

    async def action(client: HubClient) -> list[TaskOutcome]:
        return await JobClient(client).results(job)

    for outcome in with_client(login, action):
        click.echo(msgspec.json.encode(outcome).decode())


@jobs_group.command("cancel")
@click.argument("job")
@hub_login
@reports_errors
def jobs_cancel(
    job: str,
    login: HubLogin,
) -> None:
    """Cancel JOB: no more of its tasks start; finished results stay."""

    async def action(client: HubClient) -> None:
        await JobClient(client).cancel(job)

    with_client(login, action)
    console.print(f"cancelled {job}")


def _ints(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(f"{name} {text!r}: expected comma-separated whole numbers, e.g. 5,10,20")
    if not values or min(values) < 1:
        fail(f"{name} {text!r}: expected positive whole numbers")
    return values


@jobs_group.command("sweep")
@click.option("--fast", default="5,10,20", show_default=True, help="Fast SMA periods.")
@click.option("--slow", default="30,60,120", show_default=True, help="Slow SMA periods.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random-walk data.")
@click.option(
    "--bars",
    "bar_count",
    type=click.IntRange(100, 10_000_000),
    default=50_000,
    show_default=True,
    help="Length of the random walk.",
)
@click.option(
    "--ticks",
    metavar="NAME",
    help="An MT5 tick export instead: a file name under each worker's --data-root (with "
    "--local, under the current folder).",
)
@click.option("--symbol", default="EURUSD", show_default=True, help="The --ticks file's symbol.")
@click.option("--local", is_flag=True, help="Run the sweep here, in one process, instead.")
@functools.partial(hub_login, hub_required=False, user_required=False)
@reports_errors
def jobs_sweep(
    fast: str,
    slow: str,
    seed: int,
    bar_count: int,
    ticks: str | None,
    symbol: str,
    local: bool,
    login: HubLogin,
) -> None:
    """Backtest a moving-average crossover for every FAST < SLOW pair, on workers (or --local),
    and print the pairs by profit. Workers need: tradewire worker --trust tradewire.jobs"""
    data: dict[str, Any] = (
        {"file": ticks, "symbol": symbol} if ticks else {"seed": seed, "bars": bar_count}
    )
    if local and ticks:
        set_data_root(Path.cwd())  # the local run reads it from here, as a worker would
    payloads = grid(_ints(fast, "--fast"), _ints(slow, "--slow"), data)
    if not payloads:
        fail("no pair with fast < slow: give smaller --fast or larger --slow periods")
    if not local and (login.address is None or not login.user):
        fail("give --hub HOST:PORT and --user (workers run the sweep), or --local to run it here")
    if local:
        with _progress() as progress:
            bar = progress.add_task("sweep (local)", total=len(payloads))
            results = []
            for payload in payloads:
                results.append(backtest(payload))
                progress.advance(bar)
    else:

        async def action(client: HubClient) -> list[dict[str, Any]]:
            jobs = JobClient(client)
            job = await jobs.submit("tradewire.jobs.sweep:backtest", payloads)
            await _follow(jobs, job)
            outcomes = await jobs.results(job)
            failed = [o for o in outcomes if not o.ok]
            if failed:
                fail(f"{len(failed)} tasks failed, e.g. task {failed[0].task}: {failed[0].error}")
            return [msgspec.json.decode(o.value) for o in outcomes]

        results = with_client(login, action)
    table = Table("fast", "slow", "pnl", "trades", "max drawdown", title="MA crossover sweep")
    for r in sorted(results, key=lambda r: (-r["pnl"], r["fast"], r["slow"])):
        table.add_row(
            str(r["fast"]),
            str(r["slow"]),
            f"{r['pnl']:+.6f}",
            str(r["trades"]),
            f"{r['max_drawdown']:.6f}",
        )
    console.print(table)


@click.command("worker")
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    required=True,
    metavar="MODULE",
    help="A module (and its submodules) whose task functions this worker may run; repeat. "
    "Only code installed here runs: a job names a function, never sends code, and only "
    "functions marked as task functions can be named.",
)
@click.option(
    "--data-root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The folder tasks may read data files from (a sweep over an MT5 export); a task "
    "cannot leave it. Without it, tasks read no files.",
)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after N tasks.")
@hub_login
@reports_errors
def worker(
    trusted: tuple[str, ...],
    data_root: Path | None,
    count: int | None,
    login: HubLogin,
) -> None:
    """Run tasks of shared-computation jobs for the hub (a user with role worker)."""
    set_data_root(data_root)

    async def action(client: HubClient) -> Worker:
        running = Worker(client, list(trusted))
        console.print(
            f"worker {login.user}: running tasks of {', '.join(trusted)}", highlight=False
        )
        await running.run(count)
        return running

    try:
        done = with_client(login, action)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return
    console.print(f"{done.done} tasks done, {done.failed} failed")
