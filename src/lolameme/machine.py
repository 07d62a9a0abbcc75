"""What machine a measurement ran on: every benchmark and report states it.

Numbers from a shared 2-core machine mean little without the CPU model, the
core count, the thread count and the load at the time, so one helper says it
the same way everywhere.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"2.01 3.10 4.00"`` (``"n/a"`` where unknown)."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (OSError, AttributeError):
        return "n/a"


def describe(torch_threads: int | str | None = None) -> str:
    """One line: CPU, cores, torch threads, Python, load average, niceness."""
    if torch_threads is None:
        try:
            import torch

            torch_threads = torch.get_num_threads()
        except ImportError:
            torch_threads = "n/a"
    return (f"{cpu_model()}, {os.cpu_count()} cores, torch threads {torch_threads}, "
            f"Python {platform.python_version()}, load average at start {load_average()}, niceness {os.nice(0)}")
