"""Checks of the MQL5 sources in mql5/ (MetaEditor cannot run here): each parses clean under
tree-sitter's C++ grammar, and every function called is defined in them or is a listed
built-in with its reference page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mql5.sources import (
    ROOT,
    builtins,
    called_functions,
    defined_functions,
    parse,
    problems,
    sources,
)

TYPICAL_EA = b"""
#property copyright "someone"
#property strict
input int    Port = 7400;     // a comment
sinput string Note = "x";
uchar buffer[];
class CThing
  {
private:
   int               m_n;
public:
   void              Add(const uchar &data[]) { m_n += ArraySize(data); }
  };
void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request,
                        const MqlTradeResult &result)
  {
   string s = "n=" + IntegerToString(Port);
   if(trans.type == TRADE_TRANSACTION_DEAL_ADD) Print(s);
  }
"""


def test_the_check_accepts_typical_ea_code_and_catches_a_broken_function() -> None:
    assert problems(parse(TYPICAL_EA)) == []
    broken = TYPICAL_EA.replace(b"Print(s);", b"Print(s;")
    assert problems(parse(broken))
    assert problems(parse(b"void f( { int x = ; }"))


def test_the_sources_are_laid_out_like_a_terminal_data_folder() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in sources()}
    assert {
        "Experts/Tradewire/TradewireProvider.mq5",
        "Experts/Tradewire/TradewireBridge.mq5",
        "Experts/Tradewire/TradewireTicks.mq5",
        "Include/Tradewire/Client.mqh",
        "Include/Tradewire/Json.mqh",
    } <= names


@pytest.mark.parametrize("path", sources(), ids=lambda p: p.name)
def test_every_source_parses_without_error_or_missing_nodes(path: Path) -> None:
    assert problems(parse(path.read_bytes())) == [], path


def test_every_call_is_defined_or_a_listed_builtin_and_the_list_is_true() -> None:
    defined: set[str] = set()
    called: dict[str, str] = {}
    for path in sources():
        root = parse(path.read_bytes())
        defined |= defined_functions(root)
        for name, line in called_functions(root).items():
            called.setdefault(name, f"{path.name}:{line}")
    listed = builtins()
    unknown = {name: where for name, where in called.items() if name not in defined | set(listed)}
    assert unknown == {}, "call neither defined nor in mql5/builtins.txt"
    assert sorted(set(listed) - set(called)) == [], "listed in mql5/builtins.txt but not called"
    assert all(url.startswith("https://www.mql5.com/en/docs/") for url in listed.values())
    assert not set(listed) & defined, "a source defines a function named like a built-in"


def test_the_bridge_maps_retcodes_as_the_python_side_does() -> None:
    import re

    from tradewire.brokers.retcodes import RETCODES

    bridge = (ROOT / "Experts" / "Tradewire" / "TradewireBridge.mq5").read_text()
    cases = re.findall(r'case (\d+): reason = "(\w+)";\s*(retry = true;)?', bridge)
    assert {int(code): (reason, bool(retry)) for code, reason, retry in cases} == RETCODES
