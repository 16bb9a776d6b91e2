"""The functions a py-spy ``--format raw`` profile spends its time in: self and total.

.venv/bin/python benchmarks/spy_top.py results/profiles/engine-100.txt [--top 25]
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

Counts = collections.Counter[str]


def top(profile: Path) -> tuple[int, Counts, Counts]:
    """Samples, and per frame the samples it was running in (self) or on the stack (total)."""
    own: Counts = collections.Counter()
    total: Counts = collections.Counter()
    samples = 0
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return samples, own, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    samples, own, total = top(args.profile)
    print(f"{samples} samples")
    for title, counter in (("self", own), ("total", total)):
        print(f"-- {title}")
        for frame, n in counter.most_common(args.top):
            print(f"{100 * n / samples:6.1f}%  {frame[:150]}")


if __name__ == "__main__":
    main()
