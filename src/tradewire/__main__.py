"""``python -m tradewire``: the command line (the copy engine's workers start this way)."""

from tradewire.cli.main import main

main()
