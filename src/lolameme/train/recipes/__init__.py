"""Named training recipes: tested sets of training keys, kept as YAML files in this folder.

A recipe is *how* to train (objective, optimiser, pacing, curriculum), never *what*
(data, model, output directory): ``lolameme train --recipe tiny --data D --model gpt2-tiny``
takes the recipe's keys as its base, and the config file, the flags and ``--set`` override
them in that order. Every recipe file holds::

    description: one line: what it is and what it measured (benchmarks/results/learning.md)
    models: [gpt2-tiny, ...]   # optional: the presets it is the default for
    tasks: [lolameme]          # optional: the dataset tasks it serves (a curriculum's stages are task-specific)
    train: {...}               # TrainConfig keys (lolameme.train.config), validated on load

Why files and not code: a recipe is data a user reads, copies and edits; the loader checks
it once against :class:`~lolameme.train.config.TrainConfig`, so a typo is a ConfigError
naming the file and key, not a silently ignored setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lolameme.errors import ConfigError

#: Keys a recipe may not set: they say what is trained and where, which is the caller's business.
RUN_KEYS = frozenset({"data", "out", "model"})
#: Keys of a recipe file.
FILE_KEYS = ("description", "models", "tasks", "train")


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    train: dict[str, Any]
    models: tuple[str, ...] = field(default_factory=tuple)  # presets this recipe is the default for
    tasks: tuple[str, ...] = field(default_factory=tuple)  # dataset tasks it serves; empty: any
    path: Path | None = None


def recipe_names() -> list[str]:
    """Names of the recipes shipped with the package, sorted."""
    folder = resources.files(__name__)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def get_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a recipe file by path; validated (ConfigError otherwise)."""
    text_name = str(name_or_path)
    if text_name in recipe_names():
        return _shipped(text_name)
    path = Path(text_name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return parse_recipe(path.read_text(encoding="utf-8"), name=path.stem, path=path)
    raise ConfigError(f"unknown recipe {text_name!r}; shipped recipes: {', '.join(recipe_names())} "
                      "(or give the path of a recipe .yaml file)")


def load_recipe(name_or_path: str | Path) -> dict[str, Any]:
    """The TrainConfig keys of a recipe (a fresh dict, safe to modify)."""
    return _deep_copy(get_recipe(name_or_path).train)


def default_recipe(model: str, task: str | None = None) -> str | None:
    """The recipe a model preset trains with when none is named: the first recipe listing the model
    (and, when ``task`` is known, serving that task); None when no recipe claims it."""
    for name in recipe_names():
        recipe = _shipped(name)
        if model in recipe.models and (task is None or not recipe.tasks or task in recipe.tasks):
            return name
    return None


def parse_recipe(text: str, *, name: str, path: Path | None = None) -> Recipe:
    """Read and validate one recipe file's text."""
    where = str(path) if path else f"recipe {name!r}"
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        from lolameme.configfile import yaml_problem

        raise ConfigError(f"{where}: not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(FILE_KEYS)}")
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; accepted: {', '.join(FILE_KEYS)}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ConfigError(f"{where}: 'description' must be a non-empty string")
    train = data.get("train") or {}
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: 'train' must be a mapping of TrainConfig keys")
    forbidden = sorted(RUN_KEYS & set(train))
    if forbidden:
        raise ConfigError(f"{where}: train.{forbidden[0]} is not a recipe key; a recipe says how to train, "
                          f"the caller gives {', '.join(sorted(RUN_KEYS))}")
    models, tasks = data.get("models") or [], data.get("tasks") or []
    for key, value in (("models", models), ("tasks", tasks)):
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            raise ConfigError(f"{where}: '{key}' must be a list of names")
    _validate_train_keys(train, where)
    return Recipe(name=name, description=description.strip(), train=train, models=tuple(models), tasks=tuple(tasks),
                  path=path)


def _validate_train_keys(train: dict[str, Any], where: str) -> None:
    """Check the keys against TrainConfig with placeholder data/out (nothing is read or written)."""
    from lolameme.train.config import make_config

    values = {"data": "DATA", "out": "OUT", **train}
    if not any(values.get(k) is not None for k in ("steps", "epochs", "tokens", "time_budget")):
        values["steps"] = 1  # the budget is the caller's; the rest must validate without one
    make_config(values, source=f"recipe ({where})")


@lru_cache(maxsize=None)
def _shipped(name: str) -> Recipe:
    resource = resources.files(__name__) / f"{name}.yaml"
    return parse_recipe(resource.read_text(encoding="utf-8"), name=name, path=Path(str(resource)))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
