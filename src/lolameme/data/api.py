"""Generate datasets from presets: the Python face of ``lolameme generate``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lolameme.data.io import Format
from lolameme.configfile import read_config_file
from lolameme.data.presets import get_preset
from lolameme.data.tasks import task_module
from lolameme.errors import ConfigError


def resolve_config(preset: str | None = None, overrides: Mapping[str, Any] | None = None,
                   config_file: str | os.PathLike | None = None) -> tuple[str, Any]:
    """(task, validated config) from a preset, an optional config file and overrides.

    Later sources win: preset < config file < overrides. A config file may name
    its own ``preset`` and ``task``.
    """
    base: dict[str, Any] = {}
    task = None
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = read_config_file(config_file)
        preset = file_values.pop("preset", preset)
        task = file_values.pop("task", None)
    if preset is not None:
        found = get_preset(preset)
        if task is not None and task != found.task:
            raise ConfigError(f"config file says task {task!r} but preset {preset!r} is a {found.task!r} preset")
        task = found.task
        base = dict(found.config)
    if task is None:
        raise ConfigError("name a preset (--preset) or a config file with a 'task' or 'preset' key")
    merged_overrides = {**file_values, **(overrides or {})}
    return task, task_module(task).load_config(base, merged_overrides)


def generate_dataset(preset: str | None = "base", out: str | os.PathLike = "data", *,
                     overrides: Mapping[str, Any] | None = None, config_file: str | os.PathLike | None = None,
                     workers: int = 1, fmt: Format = "parquet", overwrite: bool = False,
                     progress: bool = False) -> dict[str, Any]:
    """Write a complete dataset directory and return its manifest."""
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    task, config = resolve_config(preset, overrides, config_file)
    return task_module(task).generate(config, out, workers=workers, fmt=fmt, overwrite=overwrite, progress=progress)
