"""What machine a benchmark ran on, and how busy it was: printed at the top of every benchmark."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """One line: cores, CPU model, memory, OS, Python, and the load average when the run started."""
    import psutil

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores ({_cpu_model()}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {sys.version.split()[0]}; "
        f"load average {load} (1, 5, 15 min) at start"
    )


def spread(values: list[float], digits: int = 1) -> str:
    """Median of several runs with their min–max."""
    import statistics

    ordered = sorted(values)
    return f"{statistics.median(ordered):.{digits}f} ({ordered[0]:.{digits}f}–{ordered[-1]:.{digits}f})"
