"""Where each millisecond goes: sample running role processes with py-spy and summarise per function.

`bench/pipeline.py --profile DIR` attaches py-spy to every role once the roles are ready, stops it when
the burst is archived, and prints, per role group, the functions that take the most CPU per article
(inclusive: the function and what it calls; self: the function's own code). py-spy (`pip install
py-spy`) must be on PATH or beside the interpreter; it samples without stopping the process, so the
figures are estimates (about 5 % of a core of overhead at 200 samples/s).

    python bench/profile.py DIR/crawler-1.txt --articles 1000   # summarise a recorded file again
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
from pathlib import Path

RATE = 200  # samples per second
OWN = ("newsmon/", "crawler/", "workers/", "alerts/")


def py_spy() -> str:
    """The py-spy executable.

    Raises:
        SystemExit: py-spy is not installed.
    """
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    return found


class Recorder:
    """py-spy recording one process until stopped."""

    def __init__(self, pid: int, output: Path) -> None:
        self.output = output
        self.process = subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(RATE),
                "--nonblocking",
                "--nolineno",
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def load(paths: list[Path]) -> collections.Counter[tuple[str, ...]]:
    """Stacks (outermost first) and their sample counts from py-spy raw (collapsed) files."""
    stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _short(frame: str) -> str:
    """`function (path/to/module.py)` shortened to `module.function`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    module = where.removesuffix(".py").replace("/", ".")
    for marker in ("site-packages.", "lib.python3"):
        if marker in module:
            module = module.split(marker, 1)[1]
    return f"{module}.{name}" if module else name


def summarise(stacks: collections.Counter[tuple[str, ...]], articles: int, top: int = 18,
              cpu_ms: float | None = None) -> list[str]:
    """Lines of `ms/article inclusive, ms/article self, function`, most expensive first.

    Shown: newsmon's own functions and the library functions they call directly (the boundary
    where the time leaves newsmon), so each line answers "what in newsmon costs this". Samples count
    time a thread was running or runnable; with `cpu_ms` (the CPU per article measured by the OS) the
    figures are scaled so that they add up to it.
    """
    total = sum(stacks.values())
    per_sample = 1000 / RATE / max(articles, 1)
    if cpu_ms is not None and total:
        per_sample = cpu_ms / total
    inclusive: collections.Counter[str] = collections.Counter()
    own_self: collections.Counter[str] = collections.Counter()
    for stack, count in stacks.items():
        seen: set[str] = set()
        previous_own = False
        for frame in stack:
            is_own = any(f"({package}" in frame or f"/{package}" in frame for package in OWN)
            if (is_own or previous_own) and frame not in seen:
                inclusive[_short(frame)] += count
                seen.add(frame)
            previous_own = is_own
        own_self[_short(stack[-1])] += count
    lines = [f"  {total} samples, {total * 1000 / RATE / max(articles, 1):.1f} ms/article sampled"
             + (f", scaled to the measured {cpu_ms:.1f} ms/article" if cpu_ms is not None else "")]
    lines.append(f"  {'inclusive':>10} {'self':>7}  function (ms per article)")
    for name, count in inclusive.most_common(top):
        lines.append(f"  {count * per_sample:>10.2f} {own_self.get(name, 0) * per_sample:>7.2f}  {name}")
    lines.append("  most self time anywhere:")
    for name, count in own_self.most_common(8):
        lines.append(f"  {'':>10} {count * per_sample:>7.2f}  {name}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--articles", type=int, required=True)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print("\n".join(summarise(load(args.files), args.articles, args.top)))


if __name__ == "__main__":
    main()
