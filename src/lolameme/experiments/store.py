"""The work directory of one experiment at one scale, and the markers that make it resumable.

Layout::

    WORK/datasets/<dataset-id>/          complete when its manifest.json exists (the dataset directory's contract)
    WORK/cells/<cell-id>/run/            the cell's run directory (config, metrics.jsonl, eval/)
    WORK/cells/<cell-id>/claim.json      written when a process starts the cell: pid, host, start time
    WORK/cells/<cell-id>/result.json     written last, atomically: the cell is done exactly when it exists
    WORK/results.parquet                 rebuilt from every result.json (one row per cell and split)

A cell with a claim but no result whose process is gone was interrupted: its
run directory is deleted and the cell is redone from the start. Claims are
created with O_EXCL, so two processes (two shards on one file system, say)
never start the same cell. A result records the settings key of the cell
(:func:`lolameme.experiments.backend.settings_key`); when the spec has changed
since, the cell is *stale*: its result and run directory are deleted and it is
redone, so an edited spec never reports numbers made under other settings.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lolameme.errors import ExperimentError
from lolameme.experiments.cells import Cell

RESULT_FILE = "result.json"
CLAIM_FILE = "claim.json"
RUN_DIR = "run"
RESULTS_TABLE = "results.parquet"

State = Literal["done", "stale", "running", "interrupted", "pending"]
STATES: tuple[State, ...] = ("done", "stale", "running", "interrupted", "pending")
SETTINGS_KEY = "settings_key"


def default_work_dir(spec_name: str, scale: str) -> Path:
    return Path("runs") / "experiments" / spec_name / scale


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write to a temporary name in the same directory, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExperimentError(f"cannot read {path}: {exc}") from exc


def _alive(claim: dict[str, Any]) -> bool:
    """Whether the claiming process still runs. Claims from another host count as alive."""
    if claim.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(claim["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


@dataclass(frozen=True)
class WorkDir:
    """``keys``: cell id -> the settings key its result must carry to count as done (none: any result)."""

    root: Path
    keys: dict[str, str] = field(default_factory=dict, compare=False)

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

        A stale claim (dead process on this host) and any leftover run
        directory are removed first, so an interrupted cell restarts clean.
        """
        cell_dir = self.cell_dir(cell)
        cell_dir.mkdir(parents=True, exist_ok=True)
        state = self.state(cell)
        if state in ("done", "running"):
            return False
        claim_path = cell_dir / CLAIM_FILE
        if state == "stale":
            self.result_path(cell).unlink(missing_ok=True)
        if state in ("interrupted", "stale"):
            claim_path.unlink(missing_ok=True)
            shutil.rmtree(self.run_dir(cell), ignore_errors=True)
        try:
            fd = os.open(claim_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False  # another process claimed it between our check and now
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}, handle)
        return True

    def finish(self, cell: Cell, result: dict[str, Any]) -> None:
        """Write the result marker (last, atomically, with the cell's settings key), then drop the claim."""
        if cell.id in self.keys:
            result = {**result, SETTINGS_KEY: self.keys[cell.id]}
        write_json_atomic(self.result_path(cell), result)
        (self.cell_dir(cell) / CLAIM_FILE).unlink(missing_ok=True)

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
