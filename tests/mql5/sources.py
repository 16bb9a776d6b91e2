"""Reading the MQL5 sources in mql5/ with tree-sitter's C++ grammar (no MetaEditor runs here).

MQL5 is C++-like; the keywords ``input`` and ``sinput`` are blanked before parsing, as the MQL5
grammars built on the C++ one do. ``#property`` lines parse as preprocessor calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import tree_sitter_cpp
from tree_sitter import Language, Node, Parser

ROOT = Path(__file__).resolve().parents[2] / "mql5"
BUILTINS = ROOT / "builtins.txt"
_PARSER = Parser(Language(tree_sitter_cpp.language()))
_INPUT = re.compile(rb"^(\s*)(s?input)\b", re.MULTILINE)


def sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*") if p.suffix in (".mq5", ".mqh"))


def parse(code: bytes) -> Node:
    blanked = _INPUT.sub(lambda m: m.group(1) + b" " * len(m.group(2)), code)
    return _PARSER.parse(blanked).root_node


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def problems(root: Node) -> list[str]:
    """Every ERROR or MISSING node, as ``line:column kind``."""
    found = []
    for n in walk(root):
        if n.type == "ERROR" or n.is_missing:
            kind = f"MISSING {n.type}" if n.is_missing else "ERROR"
            found.append(f"{n.start_point[0] + 1}:{n.start_point[1] + 1} {kind}")
    return found


def _name(declarator: Node | None) -> str | None:
    """The plain name a (function) declarator declares: ``f``, ``C::f`` -> ``f``."""
    while declarator is not None:
        if declarator.type in ("identifier", "field_identifier", "destructor_name"):
            return declarator.text.decode() if declarator.text else None
        if declarator.type == "qualified_identifier":
            declarator = declarator.child_by_field_name("name")
            continue
        declarator = declarator.child_by_field_name("declarator")
    return None


def defined_functions(root: Node) -> set[str]:
    names: set[str] = set()
    for node in walk(root):
        if node.type == "function_declarator":
            name = _name(node.child_by_field_name("declarator"))
            if name:
                names.add(name)
    return names


def called_functions(root: Node) -> dict[str, int]:
    """Called name -> first line: ``f(…)`` and ``obj.method(…)`` alike."""
    calls: dict[str, int] = {}
    for node in walk(root):
        if node.type != "call_expression":
            continue
        function = node.child_by_field_name("function")
        if function is None:
            continue
        if function.type == "field_expression":
            function = function.child_by_field_name("field")
        if function is not None and function.type in ("identifier", "field_identifier"):
            assert function.text is not None
            calls.setdefault(function.text.decode(), node.start_point[0] + 1)
    return calls


def builtins() -> dict[str, str]:
    """Name -> its MQL5 reference page, from mql5/builtins.txt."""
    table: dict[str, str] = {}
    for line in BUILTINS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, url = line.split()
            table[name] = url
    return table
