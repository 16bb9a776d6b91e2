"""Coverage-guided fuzzing of one parser with atheris (libFuzzer).

    .venv/bin/python fuzzing/fuzz.py frames -runs=1000000 fuzzing/corpus/frames

``make fuzz`` runs every harness for 1,000,000 inputs. A crash writes ``crash-*`` with the input;
reproduce it with ``.venv/bin/python fuzzing/fuzz.py NAME crash-...``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["tradewire"]):
    from harnesses import HARNESSES  # type: ignore[import-not-found]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in HARNESSES:
        sys.exit(f"usage: fuzz.py {{{'|'.join(HARNESSES)}}} [libFuzzer options]")
    harness = HARNESSES[sys.argv.pop(1)]
    atheris.Setup(sys.argv, harness)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
