"""docs/mt5.md says what the code does (issue 27): the magic in its transcripts is the rules'
default, the bridge's answers for a symbol the terminal lacks are the EA's, and the code for an
address outside the allow-list agrees with docs/mql5.md and tradewire.mql5."""

from __future__ import annotations

import re
from pathlib import Path

from tradewire.copy.rules import DEFAULT_MAGIC
from tradewire.mql5.errors import ERR_NETSOCKET_CANNOT_CONNECT

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "mt5.md").read_text()
BRIDGE = (ROOT / "mql5" / "Experts" / "Tradewire" / "TradewireBridge.mq5").read_text()


def test_the_bridge_transcript_uses_the_default_magic() -> None:
    """The follower's orders carry the rules' default magic (the provider's own positions,
    traded by hand, carry 0)."""
    bridge = DOC[DOC.index("### TradewireBridge") : DOC.index("### TradewireTicks")]
    assert set(re.findall(r'"magic":(\d+)', bridge)) == {str(DEFAULT_MAGIC)}


def test_the_answers_for_a_symbol_the_terminal_lacks_are_the_eas() -> None:
    assert '{"ok":true,"spec":null}' in DOC and '\\"spec\\":null}' in BRIDGE
    assert '"reason":"unknown_symbol"' in DOC and '\\"reason\\":\\"unknown_symbol\\"' in BRIDGE
    assert "retcode 10013" in DOC and 'Refusal(10013, "unknown symbol "' in BRIDGE


def test_an_unlisted_address_is_the_code_docs_mql5_and_the_port_use() -> None:
    step = DOC[DOC.index("3. **Allow the hub's address**") : DOC.index("4. **Enable")]
    assert f"({ERR_NETSOCKET_CANNOT_CONNECT})" in step
    mql5 = (ROOT / "docs" / "mql5.md").read_text()
    assert f"`SocketConnect` fails with {ERR_NETSOCKET_CANNOT_CONNECT}" in mql5


def test_the_install_command_names_no_placeholder() -> None:
    assert "…/tradewire" not in DOC and "pip wheel --no-deps . -w dist" in DOC
