"""Reading configuration from files and ``--set key=value`` flags, once, for every verb.

Datasets, training runs and experiments all take a YAML/JSON file plus
command-line overrides; they read both through these two functions, so the
rules (YAML scalars, dotted keys for nested values, clear errors) are the
same everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lolameme.errors import ConfigError


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Keys of a YAML or JSON config file (an empty file is ``{}``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, got {type(data).__name__}")
    return data


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["a=1", "b.c=x"]`` -> ``{"a": 1, "b": {"c": "x"}}`` (values parsed as YAML scalars)."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"bad override {item!r}: expected key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"bad override {item!r}: value is not valid YAML ({exc})") from exc
        target = result
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        target[leaf] = value
    return result
