"""DESIGN.md: protocol/ is sans-I/O; imports point downwards only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tradewire

ROOT = Path(tradewire.__file__).parent
IO_MODULES = {"asyncio", "socket", "ssl", "selectors", "uvloop", "sqlite3", "threading"}
# layer -> packages it must not import (those above it)
FORBIDDEN = {
    "protocol": {"hub", "clients", "cli", "store", "brokers", "copy", "mql5", "web", "bus"},
    "store": {"hub", "clients", "cli", "mql5", "web"},
    "hub": {"cli", "web", "clients"},
    "clients": {"cli", "web", "hub"},
    "copy": {"brokers", "store", "hub", "clients", "cli", "demo", "ticks", "mql5", "web"},
    "brokers": {"hub", "clients", "cli", "demo", "web"},
    "mql5": {"hub", "clients", "cli", "demo", "store", "brokers", "copy", "ticks", "web"},
    "bus": {"hub", "clients", "cli", "demo", "store", "brokers", "copy", "ticks", "web", "mql5"},
    "stats": {"hub", "clients", "cli", "demo", "store", "brokers", "copy", "ticks", "web", "bus"},
    # the what-if replay runs in a process of its own, started by the hub by module name
    "simulate": {"hub", "cli", "demo", "web", "bus", "mql5"},
}


def test_base_modules_import_no_layer() -> None:
    """config, allowlist, model, clock, exceptions sit below every package."""
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for base in ("config", "allowlist", "model", "clock", "exceptions", "metrics"):
        for name in imports(ROOT / f"{base}.py"):
            parts = name.split(".")
            if parts[0] == "tradewire" and len(parts) > 1:
                assert parts[1] not in packages - {"protocol"}, f"{base}.py imports {name}"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# The bus's contract and its in-process implementation are pure; a bus over the network (NATS)
# is an adapter, and adapters do I/O as the stores do.
NETWORK_ADAPTERS = {"nats.py", "nats_server.py"}


@pytest.mark.parametrize("layer", ["protocol", "copy", "bus", "stats"])
def test_pure_layers_import_no_io(layer: str) -> None:
    files = [p for p in (ROOT / layer).rglob("*.py") if p.name not in NETWORK_ADAPTERS]
    files += [ROOT / "model.py"] if layer == "copy" else []
    assert files
    for path in files:
        bad = {n for n in imports(path) if n.split(".")[0] in IO_MODULES}
        assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_downwards(layer: str) -> None:
    for path in (ROOT / layer).rglob("*.py"):
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "tradewire" and len(parts) > 1:
                assert parts[1] not in FORBIDDEN[layer], f"{path} imports {name}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_reaches_up_by_a_string(layer: str) -> None:
    """An import by name (importlib) slips past the check above: brokers/registry.py used to
    load ``tradewire.clients.terminal.broker`` that way. A layer names no package above it."""
    for path in (ROOT / layer).rglob("*.py"):
        text = path.read_text()
        for above in FORBIDDEN[layer]:
            assert f'"tradewire.{above}.' not in text, f"{path} names tradewire.{above} in a string"


def hub_modules() -> dict[str, Path]:
    """Every module of the hub by its dotted name inside it (``services.jobs.service``)."""
    hub = ROOT / "hub"
    return {
        ".".join(path.relative_to(hub).with_suffix("").parts): path
        for path in hub.rglob("*.py")
        if path.name != "__init__.py"
    }


def test_no_import_cycle_inside_the_hub_and_the_connection_does_not_import_the_server() -> None:
    """Issue 13: services and the connection depend on narrow protocols, not on the hub."""
    modules = hub_modules()
    graph = {
        module: {
            name.removeprefix("tradewire.hub.")
            for name in runtime_imports(path)
            if name.removeprefix("tradewire.hub.") in modules
        }
        for module, path in modules.items()
    }
    assert "server" not in graph["connection"]
    assert len(graph) > 40 and graph["compose"]  # the walk below sees the whole hub
    seen: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        if seen.get(module) == "done":
            return
        assert seen.get(module) != "open", "import cycle: " + " -> ".join([*trail, module])
        seen[module] = "open"
        for target in graph.get(module, ()):
            visit(target, [*trail, module])
        seen[module] = "done"

    for module in graph:
        visit(module, [])


def runtime_imports(path: Path) -> set[str]:
    """Imports that run (those under ``if TYPE_CHECKING:`` do not)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_hub_module_takes_the_whole_hub() -> None:
    """Issue 29: each part takes a narrow protocol of what it needs (Connection's Host, Upkeep's
    UpkeepHost, the dashboard's DashboardHost, NatsLink's Ground), never the Hub."""
    takers = {
        module
        for module, path in hub_modules().items()
        if module != "server" and "tradewire.hub.server" in imports(path)
    }
    assert not takers, f"these take the whole Hub: {sorted(takers)}"


def test_services_read_model_records_not_the_sqlite_module() -> None:
    """Issue 29: the hub's modules get users and bans as model records through the StateStore
    protocol; store/db.py (SQLite) is the stores' own business."""
    for module, path in hub_modules().items():
        assert "tradewire.store.db" not in imports(path), f"{module} imports store/db.py"


def test_no_hub_part_rewires_another_parts_hooks() -> None:
    """Issue 29: a part hears of another's doings through the event stream (hub/events.py),
    subscribed where the parts are made (hub/compose.py), never by appending to another
    object's callback list or setting its callbacks after it is built."""
    rewired = []
    for path in hub_modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr.startswith(("on_", "observers", "new_subjects"))
                and ast.unparse(node.func.value) != "app.on_response_prepare"  # aiohttp's
            ):
                rewired.append(f"{path.name}:{node.lineno} {ast.unparse(node.func)}")
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and not (isinstance(target.value, ast.Name) and target.value.id == "self")
                        and target.attr in {"outgoing", "deliver_many", "forward", "observers"}
                    ):
                        rewired.append(f"{path.name}:{node.lineno} {ast.unparse(target)} =")
    assert not rewired, f"hooks rewired after construction: {rewired}"


def test_each_service_lives_in_its_own_folder() -> None:
    """Issue 29: hub/services/NAME/ holds each service (service.py) with what only it uses
    (its queue, its book, its link to the other hubs); none is left flat in hub/."""
    services = ROOT / "hub" / "services"
    folders = sorted(p.name for p in services.iterdir() if (p / "service.py").exists())
    assert folders == [
        "budgets", "channels", "files", "history", "jobs", "relay", "reports", "sentiment",
        "sessions", "ticks", "topics",
    ]  # fmt: skip
    flat = sorted(p.name for p in (ROOT / "hub").glob("*.py"))
    assert not [name for name in flat if name.removesuffix(".py") in folders], flat
