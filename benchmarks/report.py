"""Turn ``benchmarks/results/*.json`` into ``benchmarks/RESULTS.md`` and PNG plots.

.venv/bin/python benchmarks/report.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from tradewire.clients.hops import ALL_HOPS

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def fanout_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    rows = data["rows"]
    lines = [
        "## Fan-out: provider publish -> last subscriber",
        "",
        "Closed loop: the next state is published when every subscriber has the previous "
        "one. CPU per 1,000 deliveries and RSS are the server's, from /proc. `gen CPU` is "
        "the load generator's busy share: near 100% would mean it, not the server, set the "
        "pace.",
        "",
        "| system | subscribers | p50 ms | p99 ms | max ms | server CPU s / 1k deliveries "
        "| server RSS MiB | KiB / subscriber | gen CPU | delivered |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['subscribers']:,} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['max_ms']:.2f} | {r['cpu_s_per_1000']:.4f} | "
            f"{r['rss_mib']:.1f} | {r['rss_kib_per_subscriber']:.1f} | "
            f"{r['generator_cpu_share']:.0%} | {r['delivered']:,}/{r['expected']:,} |"
        )
    by = {(r["system"], r["subscribers"]): r for r in rows}
    for n in (1000, 5000):
        tw, nats = by.get(("tradewire", n)), by.get(("nats", n))
        if tw and nats:
            targets.append(
                f"| fan-out p99 at {n:,} <= nats-server's | {tw['p99_ms']:.2f} ms vs "
                f"{nats['p99_ms']:.2f} ms | {verdict(tw['p99_ms'] <= nats['p99_ms'])} |"
            )
            ratio = tw["cpu_s_per_1000"] / nats["cpu_s_per_1000"]
            targets.append(
                f"| hub CPU per delivery <= 2x nats-server's ({n:,}) | {ratio:.2f}x | "
                f"{verdict(ratio <= 2)} |"
            )
        redis, base = by.get(("redis", n)), by.get(("asyncio", n))
        if tw and redis:
            better = tw["p99_ms"] < redis["p99_ms"]
            targets.append(
                f"| fan-out p99 better than Redis ({n:,}) | {tw['p99_ms']:.2f} vs "
                f"{redis['p99_ms']:.2f} ms | {verdict(better)} |"
            )
        if tw and redis:
            ratio = tw["cpu_s_per_1000"] / redis["cpu_s_per_1000"]
            targets.append(
                f"| hub CPU per delivery <= Redis's ({n:,}) | {ratio:.2f}x | "
                f"{verdict(ratio <= 1)} |"
            )
        if tw and base:
            targets.append(
                f"| far better than plain asyncio ({n:,}) | {tw['p99_ms']:.2f} vs "
                f"{base['p99_ms']:.2f} ms | "
                f"{verdict(tw['p99_ms'] * 2 <= base['p99_ms'])} |"
            )
    for n in (1000, 5000, 10000):
        nats = by.get(("nats", n))
        for workers in (1, 2, 4):
            mine = by.get((f"tw-nats{workers}", n))
            if mine and nats:
                targets.append(
                    f"| over NATS, {workers} hub process(es), p99 at {n:,} vs nats-server's "
                    f"(this machine's cores: {os.cpu_count()}) | {mine['p99_ms']:.2f} vs "
                    f"{nats['p99_ms']:.2f} ms | {verdict(mine['p99_ms'] <= nats['p99_ms'])} |"
                )
    systems = sorted({r["system"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for system in systems:
        mine = sorted((r for r in rows if r["system"] == system), key=lambda r: r["subscribers"])
        xs = [r["subscribers"] for r in mine]
        axes[0].plot(xs, [r["p99_ms"] for r in mine], marker="o", label=system)
        axes[1].plot(xs, [r["cpu_s_per_1000"] for r in mine], marker="o", label=system)
    for ax, title in zip(
        axes,
        ("p99 publish -> last subscriber (ms)", "server CPU s per 1,000 deliveries"),
        strict=True,
    ):
        ax.set_xscale("log")
        ax.set_xlabel("subscribers")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "fanout.png", dpi=100)
    lines += ["", "![fan-out](fanout.png)", ""]
    if data.get("syscalls"):
        lines += [
            "System calls per delivered message, the server's (`strace -c -f` on every thread, "
            "a pass of its own: 50 states; the calls that make up most of them):",
            "",
            "| system | subscribers | calls per delivery | of which |",
            "| --- | ---: | ---: | --- |",
            *(
                f"| {r['system']} | {r['subscribers']:,} | {r['per_delivery']:.3f} | "
                + ", ".join(f"{k} {v:g}" for k, v in r["top"].items())
                + " |"
                for r in data["syscalls"]
            ),
            "",
        ]
    return lines


def copy_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    rows = data["rows"]
    lines = [
        "## Copy latency: provider change -> follower fill",
        "",
        "Hub, followers and simulated terminals are separate processes; latency is per fill, from "
        "the provider's published state to the follower's fill, in whole milliseconds. Path "
        "`paper`: the follower trades its paper account itself; `terminal`: through a simulated "
        "MT5 bridge terminal over the hub's relay (every read and the order are relay requests).",
        "",
        "| path | followers | fills | p50 ms | p99 ms | max ms | hub rtt p50 | relay rtt p50/p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        hops = (
            f"{r['hub_rtt_p50_ms']:.2f} ms | "
            f"{r['relay_rtt_p50_ms']:.2f}/{r['relay_rtt_p99_ms']:.2f} ms"
            if "relay_rtt_p50_ms" in r
            else "- | -"
        )
        lines.append(
            f"| {r.get('path', 'paper')} | {r['followers']} | {r['fills']} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {hops} |"
        )
    lines.append("")
    lines += hop_lines(
        "Every hop, over every fill (ms; docs/latency.md):",
        [r for r in rows if r.get("hops")],
        lambda r: f"{r.get('path', 'paper')}, {r['followers']} followers",
    )
    for n, limit in ((10, 5.0), (100, 20.0)):
        row = next(
            (r for r in rows if r["followers"] == n and r.get("path", "paper") == "paper"), None
        )
        if row:
            targets.append(
                f"| copy latency p99 <= {limit:g} ms at {n} followers | "
                f"{row['p99_ms']:.1f} ms | {verdict(row['p99_ms'] <= limit)} |"
            )
    return [*lines, ""]


HOP_NAMES = ALL_HOPS


def hop_lines(title: str, rows: list[dict[str, Any]], label: Any) -> list[str]:
    """A table of every hop's p50/p99/max, one row per benchmark row (docs/latency.md)."""
    lines = [
        title,
        "",
        "| run | " + " | ".join(f"{h} p50/p99/max" for h in HOP_NAMES) + " |",
        "| --- |" + " ---: |" * len(HOP_NAMES),
    ]
    for row in rows:
        hops = row.get("hops") or {}
        cells = [_hop_cell(hops.get(name) or {}) for name in HOP_NAMES]
        lines.append(f"| {label(row)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _hop_cell(stats: dict[str, Any]) -> str:
    if not stats.get("n"):
        return "-"
    return f"{stats['p50_ms']:.2f} / {stats['p99_ms']:.2f} / {stats['max_ms']:.2f}"


def engine_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    rows = data["rows"]
    lines = [
        "## Copy engine: many accounts, one process or several (`--workers`)",
        "",
        "`tradewire follow --accounts` copying one channel onto N hedging paper accounts, as one "
        "process or as `--workers 2` (two engine processes under a supervisor); the hub and the "
        "engine are processes, the provider trades here (40 changes, 400 ms apart). Per state, "
        "over the accounts that filled from it: the engine received the state -> its last order "
        "sent (`plan` + `submit` of the last account), and the provider saw the change -> the "
        "last account's fill (`total`). p50/p99 over the states. CPU: every engine process, "
        "over the whole run (idle work included), per fill.",
        "",
        "| accounts | workers | fills | recv -> last submit p50/p99 ms | change -> last fill "
        "p50/p99/max ms | engine CPU ms per fill |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['accounts']:,} | {r.get('workers', 1)} | {r['fills']:,} | "
            f"{r['recv_to_last_submit_p50_ms']:.2f} / {r['recv_to_last_submit_p99_ms']:.2f} | "
            f"{r['change_to_last_fill_p50_ms']:.2f} / {r['change_to_last_fill_p99_ms']:.2f} / "
            f"{r['change_to_last_fill_max_ms']:.2f} | {r['engine_cpu_ms_per_fill']:.3f} |"
        )
    lines.append("")
    lines += hop_lines(
        "Every hop, over every fill (ms):",
        rows,
        lambda r: f"{r['accounts']:,} accounts, {r.get('workers', 1)} process(es)",
    )
    lines += profile_lines(rows)
    # every change copied: as many fills per account as one account alone makes (a moved stop
    # is a modification, not a fill)
    alone = next((r["fills"] for r in rows if r["accounts"] == 1), data["args"]["changes"])
    for row in rows:
        n, workers = row["accounts"], row.get("workers", 1)
        p50, p99 = row["change_to_last_fill_p50_ms"], row["change_to_last_fill_p99_ms"]
        goal = {100: (10.0, 15.0), 1000: (60.0, 100.0)}.get(n)
        if goal is not None:
            every = f", {row['fills']:,} of {n * alone:,} fills" if n == 1000 else ""
            met = p50 <= goal[0] and p99 <= goal[1] and (n != 1000 or row["fills"] >= n * alone)
            targets.append(
                f"| engine, {n:,} accounts, {workers} process(es): change -> last fill p50 / p99 "
                f"<= {goal[0]:g} / {goal[1]:g} ms{' and every change copied' if n == 1000 else ''}"
                f" | {p50:.1f} / {p99:.1f} ms{every} | {verdict(met)} |"
            )
        if n >= 100:
            cpu = row["engine_cpu_ms_per_fill"]
            targets.append(
                f"| engine CPU per fill, {n:,} accounts, {workers} process(es) <= 0.10 ms | "
                f"{cpu:.3f} ms | {verdict(cpu <= 0.10)} |"
            )
    processes = RESULTS / "copy_latency.json"
    engine10 = next((r for r in rows if r["accounts"] == 10 and r.get("workers", 1) == 1), None)
    if processes.exists() and engine10 is not None:
        alone = next(
            (r for r in json.loads(processes.read_text())["rows"]
             if r.get("path", "paper") == "paper" and r["followers"] == 10),
            None,
        )  # fmt: skip
        if alone is not None and "total" in alone.get("hops", {}) and "total" in engine10["hops"]:
            # Like with like: both per fill, both from the same hop stamps (the provider saw
            # the change -> the follower has its fill). The processes' journal latency ends at
            # the broker's fill stamp instead, in whole ms, and the engine's last-fill figure
            # is the slowest account's.
            mine, theirs = engine10["hops"]["total"]["p50_ms"], alone["hops"]["total"]["p50_ms"]
            ratio = mine / max(theirs, 1e-9)
            targets.append(
                "| engine vs separate processes, 10 accounts: change -> fill p50 per fill, "
                f"engine / processes <= 1 | {ratio:.2f} ({mine:.2f} / {theirs:.2f} ms) | "
                f"{verdict(ratio <= 1)} |"
            )
    return lines


def profile_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Where the engine's time went (py-spy, the GIL holder sampled) at 100 and 1,000 accounts:
    the functions on the stack in the most samples, outside the event loop's own frames."""
    from spy_top import top

    lines: list[str] = []
    for n in (100, 1000):
        path = RESULTS / "profiles" / f"engine-{n}.txt"
        if not path.exists() or not any(r["accounts"] == n for r in rows):
            continue
        samples, _, total = top(path)
        shown = [
            (frame, count)
            for frame, count in total.most_common(60)
            if "tradewire/" in frame and "cli/" not in frame
        ][:14]
        lines += [
            f"Profile of the engine at {n:,} accounts (py-spy `--gil`, {samples:,} samples; "
            "share of samples with the function on the stack):",
            "",
            "| share | function |",
            "| ---: | --- |",
            *(f"| {100 * count / samples:.1f}% | `{frame}` |" for frame, count in shown),
            "",
        ]
    return lines


def services_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    lines = [
        "## Article-idea services: topic fan-out and tasks through the job service",
        "",
        "Topics: a hub process; N subscribers of `bench.*` as raw sockets in one Python process "
        "(the subscriber side reads every line, so it bounds the figure); one value at a time, "
        "from `topic_pub` to the last subscriber's copy. Jobs: a hub process and W `tradewire "
        "worker` processes, one job of trivial tasks from submit to the last stored result.",
        "",
        "| topic subscribers | values | p50 ms | p99 ms | deliveries/s |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in data["topics"]:
        lines.append(
            f"| {r['subscribers']} | {r['values']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['deliveries_per_s']:,} |"
        )
    lines += [
        "",
        "| queue | workers | tasks | seconds | tasks/s | hub CPU ms per task |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in data["jobs"]:
        lines.append(
            f"| {r.get('queue', 'jobs.db')} | {r['workers']} | {r['tasks']} | {r['seconds']} "
            f"| {r['tasks_per_s']:,} | {r['hub_cpu_ms_per_task']} |"
        )
    return [*lines, ""]


def history_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    return [
        "## A channel's history at its limits: figures and what-if replays",
        "",
        f"A provider holding {data['positions']} positions, one replaced at every change and "
        f"an equity sample between: {data['moments_made']:,} moments made, "
        f"{data['moments_kept']:,} kept within `[history]` limits "
        f"({data['db_bytes'] / 2**20:.0f} MiB of history.db). `channel_stats` over all of it "
        f"(read and computed): {', '.join(f'{t:.2f}' for t in data['figures_s'])} s. A replay "
        f"of the last {data['replay_moments']:,} moments in its own process: "
        f"{data['replay_s']} s, {data['replay_moments_per_s']} moments/s.",
        "",
    ]


def ticks_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    lines = [
        "## Tick ingest",
        "",
        "| path | figure |",
        "| --- | ---: |",
        f"| UDP, tradewire listener, highest rate with zero loss (stored) | "
        f"{data['udp_tradewire_zero_loss']:,.0f} ticks/s |",
        f"| UDP, stdlib asyncio datagram endpoint, same ladder (counted only) | "
        f"{data['udp_asyncio_zero_loss']:,.0f} ticks/s |",
        f"| native batches, acknowledged durable | {data['native']['rows_per_s']:,.0f} rows/s |",
        f"| TCP text lines, stored | {data['tcp']['rows_per_s']:,.0f} rows/s |",
        f"| storage alone (SQLite append, 5,000-row batches) | "
        f"{data['storage']['rows_per_s']:,.0f} rows/s |",
        *(
            [
                f"| native batches into PostgreSQL (`[ticks] postgres`), acknowledged durable | "
                f"{data['native_postgres']['rows_per_s']:,.0f} rows/s |",
                f"| storage alone (PostgreSQL COPY, 5,000-row batches) | "
                f"{data['storage_postgres']['rows_per_s']:,.0f} rows/s |",
            ]
            if "native_postgres" in data
            else []
        ),
        "",
        "UDP ladder (offered rate, 3 s each):",
        "",
        "| offered/s | tradewire received | asyncio received |",
        "| ---: | ---: | ---: |",
    ]
    asyncio_by_rate = {s["rate"]: s for s in data["udp_asyncio"]}
    for step in data["udp_tradewire"]:
        other = asyncio_by_rate.get(step["rate"])
        lines.append(
            f"| {step['rate']:,.0f} | {step['received']:,} / {step['offered']:,} | "
            + (f"{other['received']:,} / {other['offered']:,}" if other else "—")
            + " |"
        )
    targets.append(
        f"| UDP ingest >= 250,000 ticks/s, zero loss | "
        f"{data['udp_tradewire_zero_loss']:,.0f}/s | "
        f"{verdict(data['udp_tradewire_zero_loss'] >= 250_000)} |"
    )
    targets.append(
        f"| native durable ingest >= 500,000 ticks/s | "
        f"{data['native']['rows_per_s']:,.0f}/s | "
        f"{verdict(data['native']['rows_per_s'] >= 500_000)} |"
    )
    # issue 28's targets, beside the earlier ones
    udp, native = data["udp_tradewire_zero_loss"], data["native"]["rows_per_s"]
    targets.append(f"| UDP ingest >= 500,000 ticks/s, zero loss | {udp:,.0f}/s | "
                   f"{verdict(udp >= 500_000)} |")  # fmt: skip
    targets.append(f"| native durable ingest >= 1,000,000 ticks/s | {native:,.0f}/s | "
                   f"{verdict(native >= 1_000_000)} |")  # fmt: skip
    if "native_postgres" in data:
        pg = data["native_postgres"]["rows_per_s"]
        targets.append(f"| native durable ingest into PostgreSQL >= 500,000 ticks/s | "
                       f"{pg:,.0f}/s | {verdict(pg >= 500_000)} |")  # fmt: skip
    return [*lines, ""]


def connections_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    idle, storm = data["idle"], data["login_storm"]
    targets.append(
        f"| {idle['subscribers']:,} idle subscribers in <= 300 MB hub RSS | "
        f"{idle['rss_mib']:.1f} MiB | {verdict(idle['rss_mib'] * 1.048576 <= 300)} |"
    )
    targets.append(
        f"| event-loop lag p99 < 50 ms during a login storm | "
        f"{storm['lag_p99_ms']:.2f} ms | {verdict(storm['lag_p99_ms'] < 50)} |"
    )
    return [
        "## Connections",
        "",
        f"- {idle['subscribers']:,} idle authenticated subscribers: hub RSS "
        f"{idle['rss_mib']:.1f} MiB ({idle['base_rss_mib']:.1f} MiB before; "
        f"{idle['kib_per_subscriber']:.1f} KiB each).",
        f"- {storm['clients']:,} clients logging in at once, default argon2id cost "
        f"(19 MiB, 2 passes), 2 worker threads: {storm['logins_per_s']:.0f} logins/s; "
        f"event-loop lag p50 {storm['lag_p50_ms']:.2f} ms, p99 {storm['lag_p99_ms']:.2f} ms, "
        f"max {storm['lag_max_ms']:.1f} ms.",
        "",
    ]


def ban_reload_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    del targets
    return [
        "## Ban reload",
        "",
        f"The hub's periodic ban reload with {data['rows']:,} ban rows: a full reload (before "
        f"issue 12) median {data['full_reload_ms']:.1f} ms on the writer thread; the reload "
        f"of changed rows (now) median {data['incremental_reload_ms']:.2f} ms.",
        "",
    ]


def attacks_section(data: dict[str, Any], targets: list[str]) -> list[str]:
    attacks = {k: v for k, v in data.items() if isinstance(v, dict) and "growth_mib" in v}
    lines = [
        "## One hostile account (issue 26)",
        "",
        f"Each attack from {data['connections']} connections of one account as fast as they go "
        f"for {data['seconds']:g} s against a hub with its default limits; the hub's RSS "
        f"before, at its peak, and 5 s after. state.db ended at {data['state_db_mib']} MiB, "
        f"jobs.db at {data['jobs_db_mib']} MiB.",
        "",
        "| attack | RSS before MiB | peak MiB | after MiB | growth MiB | batches sent |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in attacks.items():
        sent = r["sent"] if isinstance(r["sent"], int) else sum(r["sent"])
        lines.append(
            f"| {name} | {r['rss_before_mib']} | {r['rss_peak_mib']} | {r['rss_after_mib']} "
            f"| {r['growth_mib']} | {sent:,} |"
        )
    worst = max(r["growth_mib"] for r in attacks.values())
    targets.append(
        f"| hub growth under one account's attacks < 100 MB | {worst} MiB at most "
        f"| {verdict(worst * 1.048576 < 100)} |"
    )
    return [*lines, ""]


def main() -> None:
    targets: list[str] = []
    body: list[str] = []
    machine: dict[str, Any] = {}
    sections = (
        ("fanout", fanout_section),
        ("copy_latency", copy_section),
        ("copy_engine", engine_section),
        ("ticks", ticks_section),
        ("connections", connections_section),
        ("ban_reload", ban_reload_section),
        ("services", services_section),
        ("history", history_section),
        ("attacks", attacks_section),
    )
    for name, render in sections:
        data = load(name)
        if data is None:
            body += [f"## {name}", "", "(not run)", ""]
            continue
        machine = machine or data["machine"]  # the main run; later sections may be newer
        body += render(data, targets)
    head = [
        "# Benchmark results",
        "",
        "Produced by `make bench` (every peer started on 127.0.0.1 by the benchmark). "
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('memory_gib', '?')} GiB, Linux {machine.get('kernel', '?')}, "
        f"Python {machine.get('python', '?')}; run {machine.get('date', '?')}.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "| --- | ---: | --- |",
        *targets,
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(head + body))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
