"""Cells: the (dataset, model, setting, seed) units an experiment trains and evaluates.

A cell is identified by its dataset id, its *scaled* model preset, its setting
(one combination of the spec's sweep axes over training keys; none without a
sweep) and its seed, so paper models that map onto one scaled model share
their cells. The order of :func:`enumerate_cells` is the spec's order
(datasets, then models, then settings, then seeds) and does not depend on the
machine, so ``--shard i/n`` (every n-th cell from the i-th) splits the same
list the same way everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lolameme.errors import ConfigError
from lolameme.experiments.models import model_mapping
from lolameme.experiments.spec import ExperimentSpec, setting_label


@dataclass(frozen=True, order=True)
class Cell:
    dataset: str
    model: str  # model-zoo preset at the experiment's scale
    seed: int
    setting: tuple[tuple[str, Any], ...] = ()  # (train key, value) of each sweep axis

    @property
    def id(self) -> str:
        """Directory name of the cell: ``<dataset>--<model>--s<seed>``, or ``<dataset>--<model>--<setting>--s<seed>``
        (a layer specification's ``:``, ``*`` and ``,`` become ``_``)."""
        label = setting_label(self.setting)
        model = re.sub(r"[^A-Za-z0-9_.-]", "_", self.model)
        return f"{self.dataset}--{model}--{label + '--' if label else ''}s{self.seed}"


def seed_list(n_seeds: int) -> list[int]:
    """Seeds 0..n-1: a run with more seeds extends, never reshuffles, a run with fewer."""
    if n_seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {n_seeds}")
    return list(range(n_seeds))


def enumerate_cells(spec: ExperimentSpec, scale: str, seeds: list[int]) -> list[Cell]:
    """Every cell of ``spec`` at ``scale``: datasets x distinct scaled models x settings x seeds."""
    presets = list(dict.fromkeys(model_mapping(spec.models, spec.scale(scale).models).values()))
    return [Cell(d.id, model, seed, setting) for d in spec.datasets_at(scale) for model in presets
            for setting in spec.settings() for seed in seeds]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/3"`` -> (2, 3): shard 2 of 3, counted from 1. None stays None (all cells)."""
    if text is None:
        return None
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise ConfigError(f"--shard {text!r}: expected i/n with 1 <= i <= n, e.g. 1/2 and 2/2 for two machines")
    return i, n


def select_shard(cells: list[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    """The cells of shard ``i`` of ``n``: positions i-1, i-1+n, i-1+2n, ... of the full list.

    Round-robin rather than contiguous blocks, so each shard gets a mix of
    datasets and models (and a similar amount of work). Every shard must be
    given the same spec, scale and seeds.
    """
    if shard is None:
        return list(cells)
    i, n = shard
    return cells[i - 1 :: n]
