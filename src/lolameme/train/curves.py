"""``lolameme plot RUN...``: learning curves of one or more runs, read from their metrics.jsonl, to a PNG.

Three panels against the optimizer step: training loss, validation exact match
and learning rate, one line per run. Drawn from metrics.jsonl alone (the
source of truth), so it works without any tracker installed and on runs that
are still training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lolameme.atomic import atomic_path
from lolameme.errors import CheckpointError

#: (event, key, panel title) of each panel, left to right.
PANELS = (("train", "loss", "training loss"), ("val", "val_exact", "validation exact match"),
          ("train", "lr", "learning rate"))


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """The records of ``run/metrics.jsonl`` (``run`` may also be the file itself)."""
    run = Path(run)
    path = run if run.is_file() else run / "metrics.jsonl"
    if not path.is_file():
        raise CheckpointError(f"{run}: no metrics.jsonl there; `lolameme plot` takes run directories "
                              "(the --out of `lolameme train`, or an experiment's cells/<cell>/run)")
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:  # only the last line may be cut short (a run killed mid-write); the rest still plots
            if number != len(lines):
                raise CheckpointError(f"{path}, line {number}: not JSON") from None
    return records


def series(records: list[dict[str, Any]], event: str, key: str) -> tuple[list[int], list[float]]:
    """Steps and values of ``key`` in the records of ``event`` (records without it are skipped)."""
    points = [(r["step"], float(r[key])) for r in records if r.get("event") == event and r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def run_labels(runs: list[Path]) -> list[str]:
    """Short, distinct names: the run directory's name, with parents added until the names differ."""
    parts = [Path(r).resolve().parts for r in runs]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(r) for r in runs]


def plot_runs(runs: list[Path], out: Path) -> Path:
    """Draw the learning curves of ``runs`` into the PNG ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [read_metrics(run) for run in runs]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.8))
    for ax, (event, key, title) in zip(axes, PANELS):
        for label, records in zip(run_labels(runs), data):
            steps, values = series(records, event, key)
            if steps:
                ax.plot(steps, values, marker="." if len(steps) < 30 else None, label=label)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if key == "val_exact":
            ax.set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out
