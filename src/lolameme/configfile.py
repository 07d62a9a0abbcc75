"""Reading configuration from files and ``--set key=value`` flags, once, for every verb.

Datasets, training runs and experiments all take a YAML/JSON file plus
command-line overrides; they read both through these two functions, so the
rules (YAML scalars, dotted keys for nested values, clear errors) are the
same everywhere.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml

from lolameme.errors import ConfigError


MAX_NESTING = 100  # brackets deep; configs nest two or three levels
_BRACKET = re.compile(r"[][{}]")


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, but a text nested deeper than MAX_NESTING brackets raises RecursionError at once.

    Why: PyYAML takes seconds to reach Python's recursion limit on 5,000 nested brackets; callers
    turn the RecursionError into their one-line "nested too deeply" message.
    """
    depth = 0
    for bracket in _BRACKET.finditer(text):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > MAX_NESTING:
            raise RecursionError(f"nested more than {MAX_NESTING} deep")
    return yaml.safe_load(text)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Keys of a YAML or JSON config file (an empty file is ``{}``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except RecursionError:
        raise ConfigError(f"cannot read config file {path}: nested too deeply") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config file {path}: {yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, got {type(data).__name__}")
    return data


#: A value starting with one of these YAML indicators is taken as literal text, so the documented
#: ``--set latent_type_a_modification=*3`` works unquoted (YAML would read ``*3`` as an alias).
LITERAL_START = "*&!@`%|>"


def yaml_problem(exc: Exception) -> str:
    """A YAML (or JSON) error in one line: the problem and where, without the echoed source."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return " ".join(str(exc).split())
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def parse_value(text: str) -> Any:
    """One ``--set`` value: a YAML scalar or flow collection; text starting with a YAML indicator is literal."""
    stripped = text.strip()
    if not stripped:
        return ""
    if stripped[0] in LITERAL_START:
        return stripped
    return load_yaml(text)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["a=1", "b.c=x"]`` -> ``{"a": 1, "b": {"c": "x"}}`` (values parsed by :func:`parse_value`)."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"bad override {item!r}: expected key=value")
        try:
            value = parse_value(text)
        except RecursionError:
            raise ConfigError(f"bad override {item!r}: value is nested too deeply") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"bad override {item!r}: value is not valid YAML ({yaml_problem(exc)}); "
                              "quote text that YAML would misread") from None
        target = result
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        target[leaf] = value
    return result


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, the one merge rule of every layered config.

    Mappings merge key by key, recursively; anything else in ``over`` -- a scalar, a list
    (curriculum ``stages``), ``None`` -- replaces the value below it. Neither input is changed.
    """
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
