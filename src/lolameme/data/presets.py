"""Named dataset presets: YAML files shipped inside the package.

A preset file ``presets/<name>.yaml`` says which task it belongs to, one line
of description, and the task's configuration (snake_case keys)::

    task: lolameme
    description: the paper's base config (appendix A.1)
    config: {statement_count: 5, ...}

Presets are data: adding one needs no code. Command-line overrides
(``--set key=value``) are parsed by :mod:`lolameme.configfile`, with YAML's
scalar rules, so ``--set global_var_count=300`` gives an int.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lolameme.errors import ConfigError

PRESET_DIR = Path(__file__).parent / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    task: str
    description: str
    config: dict[str, Any] = field(default_factory=dict)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def _preset_from_file(path: Path) -> Preset:
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or "task" not in raw:
        raise ConfigError(f"{path}: a preset needs a mapping with at least 'task' and 'config'")
    unknown = set(raw) - {"task", "description", "config"}
    if unknown:
        raise ConfigError(f"{path}: unknown preset key(s) {sorted(unknown)}; accepted: task, description, config")
    return Preset(path.stem, raw["task"], raw.get("description", ""), dict(raw.get("config") or {}))


def list_presets() -> list[Preset]:
    return [_preset_from_file(p) for p in sorted(PRESET_DIR.glob("*.yaml"))]


def get_preset(name: str) -> Preset:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        names = ", ".join(p.name for p in list_presets())
        raise ConfigError(f"unknown preset {name!r}; available: {names}")
    return _preset_from_file(path)
