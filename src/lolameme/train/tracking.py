"""Mirrors of metrics.jsonl in TensorBoard and Weights & Biases (``--log-to tensorboard,wandb``).

metrics.jsonl is the source of truth; a tracker only shows the same records
elsewhere. Each mirror is a callable that the trainer's metrics sink hands
every record to, as it is written. A record's numbers become scalars named
``<event>/<key>`` (``train/loss``, ``val/val_exact``) at the record's step;
nested mappings are flattened with ``/`` and non-numbers are left out (they
stay in metrics.jsonl). TensorBoard writes event files to ``RUN/tensorboard/``;
W&B keeps its files under ``RUN/wandb/`` and honours its own environment
(``WANDB_MODE=offline`` needs no network or account; ``WANDB_PROJECT``, default
``lolameme``).

Trackers are optional extras: without them, naming one is a one-line error
saying what to install. They watch a run; they are not part of what determines
it, so they are not training config keys and never change an experiment
cell's settings key.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lolameme.errors import ConfigError

TRACKERS = ("tensorboard", "wandb")
TENSORBOARD_DIR = "tensorboard"
INSTALL_HINT = "pip install 'lolameme[tracking]'"


def parse_log_to(value: str | Iterable[str] | None, where: str = "--log-to") -> tuple[str, ...]:
    """``"tensorboard,wandb"`` or a list of names -> the tracker names, validated, without repeats."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise ConfigError(f"{where}: unknown tracker(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(TRACKERS)}")
    return names


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of one metrics record as ``<event>/<key>`` -> value (the step is the x axis, not a scalar)."""
    event = str(record.get("event", "metrics"))
    found: dict[str, float] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}/{key}", inner)
        elif isinstance(value, (int, float)) and math.isfinite(value):  # bools count as 0 / 1
            found[prefix] = float(value)

    for key, value in record.items():
        if key not in ("event", "step"):
            walk(f"{event}/{key}", value)
    return found


def _missing(what: str, exc: ImportError) -> ConfigError:
    return ConfigError(f"--log-to {what} needs the optional package {exc.name or what!r}: {INSTALL_HINT}")


class TensorBoardMirror:
    """Writes every record's numbers as TensorBoard scalars under ``RUN/tensorboard/``.

    The writer opens with the first record, after the trainer has prepared the
    run directory (which may clear a run that never reached a checkpoint).
    """

    def __init__(self, run_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise _missing("tensorboard", exc) from None
        self.open = lambda: SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))
        self.writer = None

    def __call__(self, record: dict[str, Any]) -> None:
        self.writer = self.writer or self.open()
        step = int(record.get("step", 0))
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, global_step=step, walltime=record.get("wall"))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class WandbMirror:
    """Logs every record's numbers to a W&B run kept under ``RUN/wandb/`` (offline with ``WANDB_MODE=offline``)."""

    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise _missing("wandb", exc) from None
        self.wandb, self.run_dir, self.config = wandb, Path(run_dir), config
        self.run = None

    def _start(self) -> Any:
        """The W&B run, started with the first record (the trainer's "start", before any training)."""
        try:
            return self.wandb.init(project=os.environ.get("WANDB_PROJECT", "lolameme"), name=self.run_dir.name,
                                   dir=str(self.run_dir), config=self.config)
        except Exception as exc:  # no login, no network: say so in one line, with the offline way out
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ConfigError(f"--log-to wandb: cannot start a W&B run ({type(exc).__name__}: {first}); log in "
                              "with `wandb login`, or set WANDB_MODE=offline to keep the run on disk") from None

    def __call__(self, record: dict[str, Any]) -> None:
        self.run = self.run or self._start()
        values = scalars(record)
        if values:
            self.run.log(values, step=int(record.get("step", 0)))

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()


@contextlib.contextmanager
def open_mirrors(names: Sequence[str], run_dir: Path, config: dict[str, Any] | None = None) -> Iterator[list[Any]]:
    """The mirrors ``names`` ask for (a missing extra fails here, before training), closed when the block ends.

    Under torchrun only rank 0, the rank that writes metrics.jsonl, opens any.
    """
    opened: list[Any] = []
    main_rank = int(os.environ.get("RANK", "0")) == 0
    try:
        for name in names if main_rank else ():
            opened.append(TensorBoardMirror(run_dir) if name == "tensorboard" else WandbMirror(run_dir, config or {}))
        yield list(opened)
    finally:
        for mirror in opened:
            mirror.close()
