"""The work directory of one experiment at one scale, and the markers that make it resumable.

Layout::

    WORK/datasets/<dataset-id>/          complete when its manifest.json exists (the dataset directory's contract)
    WORK/cells/<cell-id>/run/            the cell's run directory (config, metrics.jsonl, eval/)
    WORK/cells/<cell-id>/claim.json      written when a process starts the cell: pid, host, start time
    WORK/cells/<cell-id>/result.json     written last, atomically: the cell is done exactly when it exists
    WORK/results.parquet                 rebuilt from every result.json (one row per cell and split)

A claim records the claiming process (pid, host) and a *heartbeat*: the time it
last confirmed it still works on the cell, refreshed every ``HEARTBEAT_EVERY``
seconds (:class:`Heartbeat`). A claim expires when its heartbeat is older than
``CLAIM_TTL`` seconds (10 minutes), whichever host wrote it, so the cells of a
crashed machine run again; on the claim's own host a dead pid expires it at
once. A cell with an expired claim, or a run directory but no result, was
interrupted: it is taken over and redone from the start. Taking a cell is
atomic: an expired claim is renamed away (one process wins), then the new
claim is created with O_EXCL, and only its owner then wipes leftovers, so two
processes (two shards on one file system, say) never start the same cell. A
result records the settings key of the cell
(:func:`lolameme.experiments.backend.settings_key`); when the spec has changed
since, the cell is *stale*: its result and run directory are deleted and it is
redone, so an edited spec never reports numbers made under other settings.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lolameme.atomic import atomic_write_json
from lolameme.errors import ExperimentError
from lolameme.experiments.cells import Cell

RESULT_FILE = "result.json"
CLAIM_FILE = "claim.json"
RUN_DIR = "run"
RESULTS_TABLE = "results.parquet"

State = Literal["done", "stale", "running", "interrupted", "pending"]
STATES: tuple[State, ...] = ("done", "stale", "running", "interrupted", "pending")
SETTINGS_KEY = "settings_key"

#: A claim whose heartbeat is older than this (seconds) belongs to a crashed or hung process.
CLAIM_TTL = 600.0
#: How often a running process refreshes the heartbeat of each cell it holds (seconds).
HEARTBEAT_EVERY = 60.0


def default_work_dir(spec_name: str, scale: str) -> Path:
    return Path("runs") / "experiments" / spec_name / scale


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExperimentError(f"cannot read {path}: {exc}") from exc


def _alive(claim: dict[str, Any], now: float | None = None) -> bool:
    """Whether the claiming process still works on the cell.

    A heartbeat older than :data:`CLAIM_TTL` means no (any host); on this host
    a dead pid means no at once. Claims without a heartbeat (written before
    heartbeats existed) from another host count as alive.
    """
    beat = claim.get("heartbeat")
    if isinstance(beat, (int, float)) and (now or time.time()) - beat > CLAIM_TTL:
        return False
    if claim.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(claim["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


def new_claim() -> dict[str, Any]:
    now = time.time()
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": now, "heartbeat": now}


@dataclass(frozen=True)
class WorkDir:
    """``keys``: cell id -> the settings key its result must carry to count as done (none: any result).

    ``records``: a folder of finished results named by settings key (``<key>.json``), meant to be
    committed. Every finished cell is copied there, and :meth:`adopt_records` takes a record whose key
    matches a cell as that cell's result, so results made on another machine (or in a lost work
    directory) are found by what they were made under, not by where they were made.
    """

    root: Path
    keys: dict[str, str] = field(default_factory=dict, compare=False)
    records: Path | None = field(default=None, compare=False)

    def dataset_dir(self, dataset_id: str) -> Path:
        return self.root / "datasets" / dataset_id

    def cell_dir(self, cell: Cell) -> Path:
        return self.root / "cells" / cell.id

    def run_dir(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / RUN_DIR

    def result_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / RESULT_FILE

    def results_table(self) -> Path:
        return self.root / RESULTS_TABLE

    # -- cell states --------------------------------------------------------

    def state(self, cell: Cell) -> State:
        if self.result_path(cell).is_file():
            if cell.id in self.keys and not self._current(cell.id, read_json(self.result_path(cell))):
                return "stale"
            return "done"
        claim_path = self.cell_dir(cell) / CLAIM_FILE
        if claim_path.is_file():
            try:
                claim = json.loads(claim_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return "interrupted"  # a claim is written in one go; unreadable means a crash mid-write
            return "running" if _alive(claim) else "interrupted"
        if self.run_dir(cell).exists():
            return "interrupted"
        return "pending"

    def claim(self, cell: Cell) -> bool:
        """Take the cell for this process; False if another live process holds it or it is done.

        An expired claim is first renamed away (atomic: of two processes taking
        over, one wins), then the claim is created with O_EXCL; only after
        that, as the owner, are a stale result and any leftover run directory
        removed, so an interrupted cell restarts clean.
        """
        cell_dir = self.cell_dir(cell)
        cell_dir.mkdir(parents=True, exist_ok=True)
        state = self.state(cell)
        if state in ("done", "running"):
            return False
        claim_path = cell_dir / CLAIM_FILE
        if claim_path.exists():
            expired = cell_dir / f".{CLAIM_FILE}.expired.{os.getpid()}.{secrets.token_hex(4)}"
            try:
                os.rename(claim_path, expired)
            except FileNotFoundError:
                return False  # another process took the cell over first
            expired.unlink(missing_ok=True)
        try:
            fd = os.open(claim_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False  # another process claimed it between our check and now
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(new_claim(), handle)
        if state == "stale":
            self.result_path(cell).unlink(missing_ok=True)
        if state in ("interrupted", "stale"):
            shutil.rmtree(self.run_dir(cell), ignore_errors=True)
        return True

    def beat(self, cell: Cell) -> None:
        """Refresh the heartbeat of a cell this process holds (a no-op once the claim is gone)."""
        path = self.cell_dir(cell) / CLAIM_FILE
        try:
            claim = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if claim.get("pid") == os.getpid() and claim.get("host") == socket.gethostname():
            atomic_write_json(path, {**claim, "heartbeat": time.time()})

    def finish(self, cell: Cell, result: dict[str, Any]) -> None:
        """Write the result marker (last, atomically, with the cell's settings key and sweep setting), then drop the claim."""
        if cell.setting:
            result = {**result, "setting": dict(cell.setting)}
        if cell.id in self.keys:
            result = {**result, SETTINGS_KEY: self.keys[cell.id]}
        atomic_write_json(self.result_path(cell), result)
        if self.records is not None and cell.id in self.keys:
            self.records.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.records / f"{self.keys[cell.id]}.json", result)
        (self.cell_dir(cell) / CLAIM_FILE).unlink(missing_ok=True)

    def adopt_records(self, cells: list[Cell]) -> int:
        """Take committed records as the results of the cells they match by settings key; how many were taken."""
        if self.records is None or not self.records.is_dir():
            return 0
        taken = 0
        for cell in cells:
            record = self.records / f"{self.keys.get(cell.id, '')}.json"
            if cell.id not in self.keys or not record.is_file() or self.state(cell) in ("done", "running"):
                continue
            self.cell_dir(cell).mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.result_path(cell), {**read_json(record), "cell": cell.id})
            taken += 1
        return taken

    def release(self, cell: Cell) -> None:
        """Give a claim back after a failure, so the next run retries the cell."""
        (self.cell_dir(cell) / CLAIM_FILE).unlink(missing_ok=True)

    def results(self) -> list[dict[str, Any]]:
        """Every finished cell's result, in directory order (stale ones left out when keys are known)."""
        cells_root = self.root / "cells"
        if not cells_root.is_dir():
            return []
        results = [read_json(p / RESULT_FILE) for p in sorted(cells_root.iterdir()) if (p / RESULT_FILE).is_file()]
        return [r for r in results if self._current(r.get("cell", ""), r)]

    def _current(self, cell_id: str, result: dict[str, Any]) -> bool:
        """Whether a result was made under the cell's present settings (results from before keys count as current)."""
        expected, recorded = self.keys.get(cell_id), result.get(SETTINGS_KEY)
        return expected is None or recorded is None or recorded == expected


class Heartbeat:
    """A daemon thread refreshing the claims of the cells this process holds, every ``every`` seconds.

    Use as a context manager around a run; :meth:`hold` / :meth:`drop` as cells start and end.
    """

    def __init__(self, wd: WorkDir, every: float = HEARTBEAT_EVERY) -> None:
        self.wd, self.every = wd, every
        self.held: dict[str, Cell] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lolameme-heartbeat", daemon=True)

    def hold(self, cell: Cell) -> None:
        with self._lock:
            self.held[cell.id] = cell

    def drop(self, cell: Cell) -> None:
        with self._lock:
            self.held.pop(cell.id, None)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:  # under the lock, so a dropped cell's finished claim is never written back
                for cell in self.held.values():
                    self.wd.beat(cell)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
