"""Named training recipes: tested sets of training keys, kept as YAML files in this folder.

A recipe is *how* to train (objective, optimiser, pacing, curriculum), never *what*
(data, model, output directory). How a recipe combines with the other layers of a
config is :func:`lolameme.train.config.resolve_config`'s business (docs/training.md).
Every recipe file holds::

    description: one line: what it is and what it measured (docs/training.md)
    extends: words-reversed    # optional: a shipped recipe, or a .yaml path relative to this file
    tasks: [lolameme]          # optional: the dataset tasks it serves (inherited; a curriculum is task-specific)
    train: {...}               # TrainConfig keys (lolameme.train.config), validated on load
    family_overrides:          # optional: keys applied on top of ``train`` for models of one family
      hyena: {lr: 1.0e-3}

``extends`` deep-merges this file's ``train`` and ``family_overrides`` over the parent's
(mappings merge, lists such as ``stages`` replace). The recipe each model preset trains
with when none is named is declared in :data:`DEFAULT_RECIPES`.

Why files and not code: a recipe is data a user reads, copies and edits; the loader checks
it once against :class:`~lolameme.train.config.TrainConfig`, so a typo is a ConfigError
naming the file and key, not a silently ignored setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lolameme.configfile import deep_merge, load_yaml, yaml_problem
from lolameme.errors import ConfigError
from lolameme.train.config import NO_RECIPE, validate_config

#: Keys a recipe may not set: they say what is trained and where, which is the caller's business.
RUN_KEYS = frozenset({"data", "out", "model"})
#: Keys of a recipe file.
FILE_KEYS = ("description", "extends", "tasks", "train", "family_overrides")
#: The recipe a model preset trains with when none is named, on the tasks that recipe serves
#: (the best measured for tiny models on a 2-core CPU, docs/training.md). Other models: no recipe.
DEFAULT_RECIPES: dict[str, str] = {
    model: "words-copy-first"
    for model in ("gpt2-tiny", "hyena-tiny", "mamba-tiny", *(f"thex-tiny-{i}" for i in range(6)))
}


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    train: dict[str, Any]  # after ``extends``
    tasks: tuple[str, ...] = field(default_factory=tuple)  # dataset tasks it serves; empty: any
    family_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # family -> train keys
    path: Path | None = None

    def values_for(self, family: str | None) -> dict[str, Any]:
        """The recipe's training keys for a model of ``family`` (a fresh dict, safe to modify)."""
        return deep_merge(self.train, self.family_overrides.get(family or "", {}))


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
        return _load_file(path.resolve(), ())
    raise ConfigError(f"unknown recipe {text_name!r}; shipped recipes: {', '.join(recipe_names())} "
                      f"(or give the path of a recipe .yaml file, or {NO_RECIPE!r} for the trainer's defaults)")


def load_recipe(name_or_path: str | Path, family: str | None = None) -> dict[str, Any]:
    """The TrainConfig keys of a recipe for a model of ``family`` (a fresh dict, safe to modify)."""
    return get_recipe(name_or_path).values_for(family)


def default_recipe(model: str, task: str | None = None) -> str | None:
    """The recipe ``model`` trains with when none is named: its :data:`DEFAULT_RECIPES` entry when that
    recipe serves ``task`` (or ``task`` is unknown); None otherwise."""
    name = DEFAULT_RECIPES.get(model)
    if name is None:
        return None
    tasks = get_recipe(name).tasks
    return name if task is None or not tasks or task in tasks else None


def model_family(model: str) -> str:
    """The family a model name belongs to: its first word (``hyena-tiny`` -> ``hyena``,
    ``thex-tiny-3`` -> ``thex``, ``gpt2:32*2`` -> ``gpt2``), the key of ``family_overrides``."""
    match = re.match(r"[A-Za-z0-9]+", model)
    return match.group(0).lower() if match else model


def parse_recipe(text: str, *, name: str, path: Path | None = None) -> Recipe:
    """Read and validate one recipe file's text (its ``extends`` resolved)."""
    return _parse(text, name=name, path=path, chain=())


def _parse(text: str, *, name: str, path: Path | None, chain: tuple[str, ...]) -> Recipe:
    where = str(path) if path else f"recipe {name!r}"
    data = _read_mapping(text, where)
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ConfigError(f"{where}: 'description' must be a non-empty string")
    train, overrides = data.get("train") or {}, data.get("family_overrides") or {}
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: 'train' must be a mapping of TrainConfig keys")
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ConfigError(f"{where}: 'family_overrides' must map a model family (gpt2, hyena, thex, ...) "
                          "to a mapping of TrainConfig keys")
    for keys, label in [(train, "train")] + [(v, f"family_overrides.{k}") for k, v in overrides.items()]:
        forbidden = sorted(RUN_KEYS & set(keys))
        if forbidden:
            raise ConfigError(f"{where}: {label}.{forbidden[0]} is not a recipe key; a recipe says how to train, "
                              f"the caller gives {', '.join(sorted(RUN_KEYS))}")
    tasks = data.get("tasks")
    if tasks is not None and (not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks)):
        raise ConfigError(f"{where}: 'tasks' must be a list of names")
    parent = _parent(data.get("extends"), where, path, chain + (where,))
    if parent is not None:
        train, overrides = deep_merge(parent.train, train), deep_merge(parent.family_overrides, overrides)
        tasks = parent.tasks if tasks is None else tasks
    for family, keys in {"": {}, **overrides}.items():
        _validate_train_keys(deep_merge(train, keys), f"{where}" + (f" (family {family})" if family else ""))
    return Recipe(name=name, description=description.strip(), train=train, tasks=tuple(tasks or ()),
                  family_overrides=overrides, path=path)


def _read_mapping(text: str, where: str) -> dict[str, Any]:
    try:
        data = load_yaml(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{where}: not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(FILE_KEYS)}")
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; accepted: {', '.join(FILE_KEYS)}")
    return data


def _parent(extends: Any, where: str, path: Path | None, chain: tuple[str, ...]) -> Recipe | None:
    """The recipe named by ``extends``: a shipped name, or a path relative to the extending file."""
    if extends is None:
        return None
    if not isinstance(extends, str) or not extends:
        raise ConfigError(f"{where}: 'extends' must name a recipe")
    if extends in recipe_names():
        target = Path(str(resources.files(__name__) / f"{extends}.yaml"))
    else:
        target = (path.parent if path else Path.cwd()) / extends
        if not target.is_file():
            raise ConfigError(f"{where}: extends unknown recipe {extends!r}; shipped recipes: "
                              f"{', '.join(recipe_names())} (or a .yaml path relative to the recipe file)")
    if str(target) in chain or len(chain) > 16:
        raise ConfigError(f"{where}: 'extends' runs in a circle: {' -> '.join(chain)} -> {target}")
    return _load_file(target, chain)


def _load_file(path: Path, chain: tuple[str, ...]) -> Recipe:
    name = path.stem
    return _parse(path.read_text(encoding="utf-8"), name=name, path=path, chain=chain)


def _validate_train_keys(train: dict[str, Any], where: str) -> None:
    """Check the keys against TrainConfig with placeholder data/out (nothing is read or written)."""
    values = {"data": "DATA", "out": "OUT", **train}
    if not any(values.get(k) is not None for k in ("steps", "epochs", "tokens", "time_budget")):
        values["steps"] = 1  # the budget is the caller's; the rest must validate without one
    validate_config(values, source=f"recipe ({where})")


@lru_cache(maxsize=None)
def _shipped(name: str) -> Recipe:
    return _load_file(Path(str(resources.files(__name__) / f"{name}.yaml")), ())
