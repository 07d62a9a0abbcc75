"""The training configuration: resolved from its layers once, validated once, at the edge.

Every knob of ``lolameme train`` is a field of :class:`TrainConfig`. One function,
:func:`resolve_config`, turns the layers a caller gives into a TrainConfig, lowest first:

1. TrainConfig defaults;
2. the recipe: the one named (``recipe``), else the model's default recipe
   (:data:`lolameme.train.recipes.DEFAULT_RECIPES`), ``"none"`` for no recipe; with its
   ``family_overrides`` for the model's family on top;
3. an experiment scale's training keys;
4. a config file (YAML/JSON, same keys);
5. the caller's values (CLI flags, or the dict given to :func:`make_config`);
6. ``--set key=value`` overrides.

Each layer is deep-merged over the one below (:func:`lolameme.configfile.deep_merge`:
mappings merge key by key, lists and scalars replace). The CLI, the Python API
(``train(make_config({...}))``) and the experiment backend all resolve through it, so the
same keys train the same run whichever door they come in by. The resolved config is saved
as RUN/config.json. Unknown keys and bad values raise :class:`~lolameme.errors.ConfigError`
naming the key.

Training is a list of *stages* run in order. A plain run is one stage that
uses ``data`` as is; a curriculum lists several, each with its own dataset
directory and/or row filter (``where``) and its own share of the budget. The
learning-rate schedule runs over the whole run, not per stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lolameme.configfile import deep_merge, parse_overrides, read_config_file
from lolameme.errors import ConfigError, LolamemeError
from lolameme.machine import DEVICE_NAMES
from lolameme.tokenizers import TOKENIZER_NAMES

#: A recipe name that means "no recipe": the trainer's defaults.
NO_RECIPE = "none"

TokenizerName = Literal[TOKENIZER_NAMES]  # type: ignore[valid-type]
DeviceName = Literal[DEVICE_NAMES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Stage(_Strict):
    """One curriculum stage: where its samples come from and how much of the budget it gets.

    ``where`` keeps rows whose annotation columns match: ``{"n_statements": 2}`` (equal),
    ``{"n_statements": [1, 2]}`` (one of) or ``{"n_statements": {"min": 1, "max": 3}}`` (inclusive range).
    ``task`` trains on a generated variant of the run's dataset instead: its generator config with
    these keys changed (``{"statement_count": 1}``), ``rows`` programs (see :mod:`lolameme.train.curriculum`).
    The stage ends after ``steps`` optimizer steps, when the run's overall progress reaches
    ``until`` (a fraction of the budget), or -- with ``gate`` -- once teacher-forced exact match on
    held-out rows of the stage's own data reaches ``gate`` (checked every ``val_every`` steps);
    the last stage runs until the budget is spent.
    """

    name: str | None = None
    data: Path | None = None  # None: the run's ``data``
    task: dict[str, Any] = Field(default_factory=dict)  # generator overrides of the run's dataset config
    rows: int = Field(default=100_000, ge=2)  # programs generated for a ``task`` stage
    where: dict[str, Any] = Field(default_factory=dict)
    steps: int | None = Field(default=None, ge=1)
    until: float | None = Field(default=None, gt=0, le=1)
    gate: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> Stage:
        if self.task and self.data is not None:
            raise ValueError("a stage takes its samples from 'data' or from a generated 'task' variant, not both")
        return self


class TrainConfig(_Strict):
    """Everything that determines a training run (besides the random seed's consequences)."""

    # what to train on and what to train
    recipe: str | None = None  # the recipe these keys started from ("none": the defaults); see resolve_config
    data: Path
    out: Path
    model: str = "gpt2-tiny"
    model_overrides: dict[str, Any] = Field(default_factory=dict)  # e.g. {"pos_encoding": "rope"}
    tokenizer: TokenizerName = "char"
    max_seq_len: int | None = Field(default=None, ge=8)  # None: fitted to the longest training sample
    overlength: Literal["filter", "truncate", "error"] = "filter"
    stages: list[Stage] = Field(default_factory=list)  # empty: one stage over ``data``

    # the objective
    loss: Literal["answer", "full", "weighted"] = "answer"
    answer_weight: float = Field(default=0.5, ge=0, le=1)  # for loss="weighted"
    reverse_answer: bool = False
    # the answer format (lolameme.train.format): the paper's direct answer, or a step-by-step trace first
    answer_format: Literal["direct", "trace"] = "direct"
    trace_statements: Literal["all", "relevant"] = "all"  # trace every statement, or the printed value's chain
    trace_share: float = Field(default=1.0, gt=0, le=1)  # share of training rows written as traces (rest direct)
    trace_weight: float = Field(default=1.0, ge=0)  # loss weight of each trace-field token within the answer
    final_weight: float = Field(default=1.0, ge=0)  # loss weight of each final-answer token within the answer

    # budget: training stops at whichever is reached first (at least one is required)
    steps: int | None = Field(default=None, ge=1)
    epochs: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, ge=1)
    time_budget: float | None = Field(default=None, gt=0)  # minutes of wall-clock training

    # optimisation
    batch_size: int = Field(default=32, ge=1)  # samples per optimizer step, over all ranks and micro-batches
    grad_accum: int = Field(default=1, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    warmup_steps: int = Field(default=100, ge=0)
    weight_decay: float = Field(default=0.1, ge=0)
    lr_scale: dict[str, float] = Field(default_factory=dict)  # per parameter group (lolameme.models.param_groups)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.95, ge=0, lt=1)
    grad_clip: float | None = Field(default=1.0, gt=0)
    bucket_batches: int = Field(default=50, ge=1)  # batches per length-sorting window

    # validation on a held-out slice of the training split (never the test splits)
    val_samples: int = Field(default=256, ge=0)
    val_every: int = Field(default=200, ge=1)

    # bookkeeping
    seed: int = 0
    log_every: int = Field(default=10, ge=1)
    checkpoint_every: int = Field(default=500, ge=1)
    keep_checkpoints: int = Field(default=2, ge=1)
    device: DeviceName = "auto"
    compile: bool = False
    progress: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.steps is None and self.epochs is None and self.tokens is None and self.time_budget is None:
            raise ValueError("no training budget: give at least one of steps, epochs, tokens, time_budget")
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size {self.batch_size} is not divisible by grad_accum {self.grad_accum}")
        return self

    def stage_list(self) -> list[Stage]:
        """The stages to run: the configured ones, or one stage over ``data``."""
        return list(self.stages) or [Stage()]

    def answer_format_spec(self):
        """The :class:`~lolameme.train.format.AnswerFormat` the run writes its samples in."""
        from lolameme.train.format import AnswerFormat

        return AnswerFormat(self.answer_format, self.trace_statements, self.reverse_answer)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def make_config(values: Mapping[str, Any], *, source: str = "config") -> TrainConfig:
    """The Python API's door: ``values`` resolved like the CLI's flags (:func:`resolve_config`).

    ``{"model": "gpt2-tiny", ...}`` trains with that model's default recipe, as
    ``lolameme train --model gpt2-tiny`` does; add ``"recipe": "none"`` for the bare defaults.
    """
    return resolve_config(values, source=source)


def resolve_config(values: Mapping[str, Any] | None = None, *, recipe: str | Path | None = None,
                   scale: Mapping[str, Any] | None = None, file: str | Path | None = None,
                   sets: Sequence[str] = (), source: str = "config") -> TrainConfig:
    """The TrainConfig of the layered settings (module docstring: the order and the merge rule)."""
    return validate_config(resolve_values(values, recipe=recipe, scale=scale, file=file, sets=sets), source=source)


def resolve_values(values: Mapping[str, Any] | None = None, *, recipe: str | Path | None = None,
                   scale: Mapping[str, Any] | None = None, file: str | Path | None = None,
                   sets: Sequence[str] = ()) -> dict[str, Any]:
    """The merged keys of :func:`resolve_config`, before validation.

    Resolving its own output again gives the same keys (the recipe is the lowest layer and
    its name is kept in ``recipe``), so a resolved dict can travel and be resolved again.
    """
    above = deep_merge(dict(scale or {}), read_config_file(file) if file else {})
    above = deep_merge(deep_merge(above, dict(values or {})), parse_set(list(sets)))
    name = recipe if recipe is not None else above.get("recipe")
    model = str(above.get("model") or TrainConfig.model_fields["model"].default)
    if name is None:
        from lolameme.train.recipes import default_recipe

        name = default_recipe(model, _task_of(above.get("data")))
    if name is None or str(name) == NO_RECIPE:
        return {**above, "recipe": NO_RECIPE}
    from lolameme.train.recipes import get_recipe, model_family

    chosen = get_recipe(name)
    label = chosen.name if chosen.path is None or str(name) == chosen.name else str(name)
    return {**deep_merge(chosen.values_for(model_family(model)), above), "recipe": label}


def _task_of(data: Any) -> str | None:
    """The task of a dataset directory, or None when it cannot be read (the trainer reports that later)."""
    from lolameme.data.io import read_manifest

    if data is None:
        return None
    try:
        return read_manifest(data).get("task")
    except (LolamemeError, OSError):
        return None


def validate_config(values: Mapping[str, Any], *, source: str = "config") -> TrainConfig:
    """Validate fully resolved ``values`` into a TrainConfig; every problem is one ConfigError naming the keys."""
    try:
        return TrainConfig.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                fields = Stage.model_fields if err["loc"][0] == "stages" else TrainConfig.model_fields
                msg = f"unknown key; accepted keys: {', '.join(fields)}"
            problems.append(f"{where}: {msg}")
        raise ConfigError(f"invalid training {source}: " + "; ".join(problems)) from None


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """``--set key=value`` pairs (values parse as YAML; see :mod:`lolameme.configfile`).

    ``model.X=V`` goes to ``model_overrides`` so model options need no flag of their own.
    """
    prefix = "model."
    values = parse_overrides([item for item in assignments if not item.startswith(prefix)])
    model_items = [item[len(prefix):] for item in assignments if item.startswith(prefix)]
    if model_items:
        values["model_overrides"] = {**values.get("model_overrides", {}), **parse_overrides(model_items)}
    return values