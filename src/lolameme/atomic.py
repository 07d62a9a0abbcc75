"""Write-then-rename for files and directories, and an exclusive lock on an output directory.

Why one module: every artefact the toolkit writes (datasets, manifests, checkpoints, token caches,
results, reports) must either appear whole or not at all, and two processes writing the same output
must never interleave. Temporary names are unique per process *and* per call (pid plus a random
suffix), so parallel jobs never collide on a shared ``.tmp`` name, and a crashed writer leaves only
a dot-file that no reader looks at.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lolameme.errors import LolamemeError


class OutputLockedError(LolamemeError):
    """Another process holds the lock on an output directory."""


def temporary_name(path: Path) -> Path:
    """A hidden name beside ``path``, unique to this process and this call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    final = Path(path)
    tmp = temporary_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2,
                      sort_keys: bool = False) -> None:
    """Write ``obj`` as JSON (with a trailing newline) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it is renamed to ``path``.

    ``replace=True`` lets an existing ``path`` be swapped out (moved aside, then removed); without
    it an existing ``path`` is an error, so a finished directory is never silently overwritten.
    On an exception the temporary directory is removed and ``path`` is untouched.
    """
    final = Path(path)
    tmp = temporary_name(final)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if final.exists():
            if not replace:
                raise FileExistsError(errno.EEXIST, "already exists", str(final))
            old = temporary_name(final)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


LOCK_NAME = ".lolameme.lock"


@contextlib.contextmanager
def exclusive_lock(directory: str | os.PathLike, *, wait: bool = False,
                   timeout: float | None = None, poll: float = 0.2) -> Iterator[Path]:
    """Hold an exclusive advisory lock on ``directory`` (created if missing) for the block.

    Uses ``fcntl.flock`` on ``directory/.lolameme.lock``, so the kernel releases it when the holder
    dies: a killed writer never leaves a stale lock. Without ``wait`` a second holder gets
    :class:`OutputLockedError` at once; with ``wait`` it polls until the lock is free or ``timeout``
    seconds pass.
    """
    import fcntl

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    lock_file = folder / LOCK_NAME
    handle = open(lock_file, "a+")
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    raise OutputLockedError(
                        f"{folder} is being written by another process (lock {lock_file}); "
                        "wait for it to finish or choose another output directory") from None
                time.sleep(poll)
        yield lock_file
    finally:
        handle.close()
