"""How much an analysis measures: kept apart from the measures so the CLI reads its defaults without torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AnalysisSettings:
    """How much to analyse; the defaults keep 500 rows of a tiny model within a couple of minutes on a CPU."""

    limit: int | None = None          # first N rows of the split
    checkpoint: str | int = "best"
    batch_size: int = 64
    folds: int = 5                    # cross-validation folds of the probes
    max_pairs: int = 64               # patching pairs per kind
    seed: int = 0                     # fresh-init model, control task, folds and patching pairs
    progress: bool = True
