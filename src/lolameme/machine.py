"""The machine: what a measurement ran on, how much memory there is, and worker processes' lifetime.

Numbers from a shared 2-core machine mean little without the CPU model, the
core count, the thread count and the load at the time, so one helper says it
the same way everywhere. Generators size-check configs against the RAM here,
and their worker pools ask to die with the process that made them here.
"""

from __future__ import annotations

import os
import platform
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from lolameme.errors import ConfigError

#: Device names a config accepts; ``cuda:N`` picks one GPU where a command takes a device flag.
DEVICE_NAMES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> Any:
    """The torch device for ``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``.

    The one place a device name becomes a device, so every verb accepts the same names and
    refuses a missing GPU with the same one-line :class:`ConfigError`.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    index = name[len("cuda:"):] if name.startswith("cuda:") else None
    if name not in DEVICE_NAMES and not (index and index.isdigit()):
        raise ConfigError(f"unknown device {name!r}; accepted: {', '.join(DEVICE_NAMES)}, cuda:N")
    if name != "cpu" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but no CUDA GPU is available; use device 'cpu' or 'auto'")
    return torch.device(name)


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


def physical_memory() -> int:
    """Bytes of RAM on this machine (0 where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 0


def memory_shortfall(needs: dict[str, float]) -> tuple[str, str] | None:
    """(costliest key, message) when the estimated memory of a config exceeds this machine's RAM.

    ``needs`` maps each size key to the bytes it is estimated to need. Why estimate instead of
    trying: an oversized generator is not stopped by a MemoryError but by the kernel's OOM
    killer, which may take other processes with it.
    """
    total = sum(needs.values())
    available = physical_memory()
    if not available or total <= available:
        return None
    key, worst = max(needs.items(), key=lambda item: item[1])
    return key, (f"needs ~{_gb(total)} of memory ({key} alone ~{_gb(worst)}), more than this machine's "
                 f"{_gb(available)}; lower it")


def _gb(n: float) -> str:
    return f"{n / 1e9:,.0f} GB" if n >= 1e9 else f"{n / 1e9:.1f} GB"


def init_pool_worker(pid: int) -> None:
    """Pool initializer: end this worker quietly on Ctrl-C, and the moment process ``pid`` (the one
    that made the pool) dies.

    Ctrl-C reaches every process of the terminal's group; the owner handles it (it stops and writes
    no manifest), so a worker just exits instead of printing a KeyboardInterrupt traceback or
    finishing its chunk. Dying with the owner: without it a worker finishes the chunk it holds
    after a ``kill -9`` of the generating process, burning a core on work nobody reads; a
    forkserver's workers (ListOps) even wait forever, since they hold the write ends of their own
    task pipe. A thread waits on a pidfd of ``pid`` (Linux 5.3+); elsewhere Linux is asked to kill
    the worker with its parent, and failing that the worker notices at its next task, as before.
    A result sent to a parent already gone ends the worker quietly instead of printing a
    BrokenPipeError.
    """
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        watched = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)  # already gone
    except (AttributeError, OSError):
        _die_with_parent(pid)
        return

    def watch() -> None:
        select.select([watched], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="die-with-pool-owner", daemon=True).start()


def _die_with_parent(pid: int) -> None:
    if not sys.platform.startswith("linux") or os.getppid() != pid:
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != pid:  # the parent died before the request took effect
        os._exit(1)
