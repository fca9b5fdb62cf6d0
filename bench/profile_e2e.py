"""Profile benchmark 5 with py-spy: which process, and which code in it, the offers wait for.

    .venv/bin/python -m bench.profile_e2e [--concurrency 50] [--duration 6] [--out DIR]

Runs one end-to-end level on the dev stack and on the floor (as ``bench/e2e.py`` does), samples every child
process with ``py-spy record --format raw`` during the measured window, and prints per process: samples on
CPU and the functions with the most self and inclusive samples (file:function, line numbers folded).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections import Counter
from pathlib import Path

from bench.common import ROOT
from bench.e2e import _floor_level, _stack_level

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match["file"]
    # Shorten to a path inside the installed packages, the standard library or this repository.
    for marker in ("site-packages/", "lib/python3.13/", f"{ROOT}/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{file}:{match['func']}"


def summarize(path: Path, top: int = 12) -> str:
    """Self and inclusive sample counts per function from a py-spy raw (collapsed stacks) file."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread (")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return f"{path.name}: no samples"
    out = [f"{path.stem}: {total} samples on CPU", "  self:"]
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    out.append("  inclusive:")
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top + 8)]
    return "\n".join(out)


async def _run(concurrency: int, duration: float, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as name:
        tmp = Path(name)
        ours = await _stack_level(concurrency, 2.0, duration, tmp, out)
        floor = await _floor_level(concurrency, 2.0, duration, tmp, out)
    print(f"stack: {ours}\nfloor: {floor}\n")


def main() -> None:
    """Profile one end-to-end level, stack and floor, with py-spy; print the busiest functions per process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--out", type=Path, default=None, help="where the raw profiles go (default: temp)")
    args = parser.parse_args()
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="bench-pyspy-"))
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(_run(args.concurrency, args.duration, out))
    for path in sorted(out.glob("*.txt")):
        print(summarize(path))
        print()


if __name__ == "__main__":
    main()
