"""Pure statistics of a channel's history (no I/O): docs/statistics.md."""
