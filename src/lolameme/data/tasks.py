"""The dataset tasks and the one interface each task module offers.

A task module (``lolameme.data.generator`` for LOLAMEME programs,
``lolameme.data.listops`` for ListOps, ``lolameme.data.recall.*`` for the recall
tasks) provides::

    load_config(base: Mapping, overrides: Mapping) -> pydantic.BaseModel
        # validates once, raising ConfigError naming the bad key and value
    generate(config, out_dir, *, workers=1, fmt="parquet", overwrite=False,
             progress=False) -> dict   # writes the dataset, returns its manifest

so presets, the CLI and the experiment runner treat every task alike.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from lolameme.errors import ConfigError

TASK_MODULES = {
    "lolameme": "lolameme.data.generator",
    "listops": "lolameme.data.listops",
    "associative_recall": "lolameme.data.recall.associative",
    "mqar": "lolameme.data.recall.mqar",
    "induction_heads": "lolameme.data.recall.induction",
}


def task_module(task: str) -> ModuleType:
    if task not in TASK_MODULES:
        raise ConfigError(f"unknown task {task!r}; accepted: {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[task])
