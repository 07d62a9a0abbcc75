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


def git_commit(where: Path | None = None) -> dict[str, object] | None:
    """The commit of the git checkout holding ``where`` (default: this package's source), or None.

    An installed wheel lives in no checkout and records None; a checkout with
    uncommitted changes to tracked files says so (``dirty``), because the
    commit alone would then not reproduce the run.
    """
    import subprocess

    where = where or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def provenance(device: str | None = None) -> dict[str, object]:
    """What produced a run, for its config.json: code, libraries, machine and the command line."""
    import shlex
    import sys

    from lolameme import __version__

    torch_version = gpu = None
    try:
        import torch

        torch_version = torch.__version__
        if torch.cuda.is_available():
            index = torch.device(device).index if device and str(device).startswith("cuda") else None
            gpu = torch.cuda.get_device_name(index if index is not None else torch.cuda.current_device())
    except ImportError:
        pass
    return {
        "git": git_commit(),
        "package_version": __version__,
        "torch": torch_version,
        "python": platform.python_version(),
        "device": None if device is None else str(device),
        "cpu": cpu_model(),
        "gpu": gpu,
        "host": platform.node(),
        "command": shlex.join(sys.argv),
    }
