"""The training configuration, validated once at the edge.

Every knob of ``lolameme train`` is a field of :class:`TrainConfig`; a config
file (YAML or JSON) uses the same keys, CLI flags override it, and the
resolved config is saved as RUN/config.json. Unknown keys and bad values raise
:class:`~lolameme.errors.ConfigError` naming the key.

Training is a list of *stages* run in order. A plain run is one stage that
uses ``data`` as is; a curriculum lists several, each with its own dataset
directory and/or row filter (``where``) and its own share of the budget. The
learning-rate schedule runs over the whole run, not per stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lolameme.configfile import parse_overrides
from lolameme.errors import ConfigError
from lolameme.tokenizers import TOKENIZER_NAMES


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
    recipe: str | None = None  # the named recipe these keys started from (provenance; see train/recipes)
    data: Path
    out: Path
    model: str = "gpt2-tiny"
    model_overrides: dict[str, Any] = Field(default_factory=dict)  # e.g. {"pos_encoding": "rope"}
    tokenizer: Literal["char", "words", "gpt2", "listops"] = "char"
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
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compile: bool = False
    progress: bool = True

    @field_validator("tokenizer", mode="before")
    @classmethod
    def _known_tokenizer(cls, value: Any) -> Any:
        if value not in TOKENIZER_NAMES:
            raise ValueError(f"unknown tokenizer {value!r}; accepted: {', '.join(TOKENIZER_NAMES)}")
        return value

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


def make_config(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """Validate ``values`` into a TrainConfig; every problem is one ConfigError naming the keys."""
    return validate_config(values, source=source)


def validate_config(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
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