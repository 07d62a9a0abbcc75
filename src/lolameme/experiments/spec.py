"""Experiment specs: one YAML file per experiment of the paper, validated once, here.

A spec names *what* is compared (models at paper depth, datasets as preset +
overrides, the test splits through its table columns and figures) and the
paper's numbers to compare with. *How big* is a scale: ``micro`` (the test
suite), ``tiny`` (about an hour on a 2-core CPU), ``small`` and ``paper``.
Every scale starts from the package defaults in ``scales.yaml`` and a spec
overrides only what differs (``scales: {tiny: {train: {steps: 900}}}``), so a
budget is written once.

Model names in specs are the paper's: ``gpt2``, ``hyena`` and ``thex-N`` with
N the 0-based layer index at the paper's depth of 18 Hyena layers; see
:mod:`lolameme.experiments.models` for how they map onto a scale.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lolameme.configfile import deep_merge, load_yaml, yaml_problem
from lolameme.errors import ConfigError
from lolameme.train.config import TokenizerName, TrainConfig
from lolameme.validation import validation_problems

SCALES = ("micro", "tiny", "small", "paper")
MODEL_SCALES = ("tiny", "small", "paper")
METRICS = ("exact_match", "token_loss", "token_accuracy")
ModelScale = Literal[MODEL_SCALES]  # type: ignore[valid-type]
Metric = Literal[METRICS]  # type: ignore[valid-type]
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_PAPER_MODEL = re.compile(r"^(gpt2|hyena|thex-(\d+))$")
PAPER_DEPTH = 18  # Hyena layers of the paper's 153M model; THEX-N indexes them from 0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def format_value(value: Any) -> str:
    """How a sweep value is written in a cell's name: ``0.001``, ``true``, ``tiny``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def setting_label(setting: tuple[tuple[str, Any], ...] | dict[str, Any]) -> str:
    """``lr=0.001,recipe=tiny`` (empty for no sweep): names a setting in cell ids and reports."""
    items = setting.items() if isinstance(setting, dict) else setting
    return ",".join(f"{key}={format_value(value)}" for key, value in items)


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{what} {value!r} must be lower-case letters, digits, '_', '.', '-' (it names a directory)")
    return value


def check_paper_model(name: str) -> str:
    """``gpt2``, ``hyena`` or ``thex-N`` with 0 <= N < 18 (the paper's depth)."""
    match = _PAPER_MODEL.match(name)
    if not match:
        raise ValueError(f"model {name!r} is not a paper model name; accepted: gpt2, hyena, thex-N (N in 0..17)")
    if match.group(2) is not None and not 0 <= int(match.group(2)) < PAPER_DEPTH:
        raise ValueError(f"model {name!r}: THEX layer index must be in 0..{PAPER_DEPTH - 1} (paper depth)")
    return name


def is_paper_model(name: str) -> bool:
    try:
        check_paper_model(name)
    except ValueError:
        return False
    return True


def check_model_name(name: str) -> str:
    """A paper model name, a registered mixer family (``mamba``: its preset at each scale), a model
    preset (used as is at every scale) or a layer specification (``mamba:128*2,gpt2:128``)."""
    from lolameme.errors import ModelError
    from lolameme.models.config import parse_layers
    from lolameme.models.presets import preset_names
    from lolameme.models.registry import is_mixer_name, mixer_names

    if is_paper_model(name) or name in preset_names() or (is_mixer_name(name) and ":" not in name):
        return name
    if ":" not in name:
        raise ValueError(f"model {name!r} is not a paper model name (gpt2, hyena, thex-N with N in 0..17), a mixer "
                         f"family ({', '.join(mixer_names())}), a model preset (`lolameme models`) or a layer specification")
    try:
        parse_layers(name)
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    return name


class DatasetSpec(_Strict):
    """One corpus: a dataset preset plus overrides; ``x`` places it on a figure's x axis."""

    id: str
    preset: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    x: float | None = None
    label: str | None = None  # how the x value is shown, e.g. "6 [4,8]"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "dataset id")


PaperNumber = float | tuple[float, float]  # mean, or (mean, std)


class Column(_Strict):
    """One column of the paper's table: a split of one dataset, with the paper's numbers per model."""

    title: str
    dataset: str
    split: str
    paper: dict[str, PaperNumber] = Field(default_factory=dict)

    @field_validator("paper")
    @classmethod
    def _paper_models(cls, value: dict[str, PaperNumber]) -> dict[str, PaperNumber]:
        for name in value:
            check_paper_model(name)
        return value


class Table(_Strict):
    source: str  # "Table 1"
    caption: str
    columns: list[Column] = Field(min_length=1)


class Figure(_Strict):
    """A figure in the paper's form: ``metric`` of ``split`` against the datasets' ``x``, one line per model."""

    id: str
    source: str  # "Figure 1"
    caption: str
    split: str
    metric: Metric = "exact_match"
    x_label: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "figure id")


class Claim(_Strict):
    """One finding of the paper, checked against our numbers in the report and the summary.

    ``target`` names a table column title or a figure id (a figure is averaged over
    the x values every compared model has). ``beats``: ``model`` scores above
    ``other``; ``best`` / ``worst``: ``model`` is highest / lowest of all models.
    ``metric`` lets a claim compare answer NLL (``token_loss``, lower is better) or
    ``token_accuracy`` instead of exact match, as the paper's Figure 4 does with loss.
    """

    text: str
    target: str
    kind: Literal["beats", "best", "worst"]
    model: str
    other: str | None = None
    #: what a table-column target compares (a figure target uses the figure's own metric)
    metric: Metric = "exact_match"

    @model_validator(mode="after")
    def _consistent(self) -> Claim:
        check_paper_model(self.model)
        if (self.kind == "beats") != (self.other is not None):
            raise ValueError("a 'beats' claim needs 'other'; 'best' and 'worst' take none")
        if self.other is not None:
            check_paper_model(self.other)
        return self


class EvalScale(_Strict):
    limit: int | None = Field(default=None, ge=1)  # rows per split (None: all)
    batch_size: int = Field(default=64, ge=1)


class Scale(_Strict):
    """How big one scale of an experiment is (after merging the package defaults)."""

    models: ModelScale
    seeds: int = Field(ge=1)
    datasets: list[str] | None = None  # ids run at this scale; None: all
    data: dict[str, dict[str, Any]] = Field(default_factory=dict)  # task -> overrides for every dataset of it
    tokenizer: dict[str, TokenizerName] = Field(default_factory=dict)  # task -> tokenizer
    recipe: str | None = None
    train: dict[str, Any] = Field(default_factory=dict)  # TrainConfig keys
    eval: EvalScale = Field(default_factory=EvalScale)
    log_to: list[str] = Field(default_factory=list)  # trackers mirroring each cell's metrics: tensorboard, wandb
    shrunk: str | None = None  # how the task differs from the paper's at this scale (first line of the report)
    note: str | None = None

    @field_validator("log_to", mode="before")
    @classmethod
    def _trackers(cls, value: Any) -> list[str]:
        from lolameme.train.tracking import parse_log_to

        try:
            return list(parse_log_to(value, where="log_to"))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class ExperimentSpec(_Strict):
    name: str
    title: str
    paper: str  # where in the paper: "Table 1", "Figures 1, 2"
    description: str
    models: list[str] = Field(min_length=1)
    datasets: list[DatasetSpec] = Field(min_length=1)
    table: Table | None = None
    figures: list[Figure] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
    # axes over training keys ({lr: [0.001, 0.003], recipe: [tiny, plain]}): every combination is a
    # setting, and each (dataset, model, setting, seed) is a cell
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    scales: dict[str, Scale]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_id(value, "experiment name")

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        for name in value:
            check_model_name(name)
        if len(set(value)) != len(value):
            raise ValueError(f"models are listed twice: {value}")
        return value

    @field_validator("sweep")
    @classmethod
    def _sweep(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"sweep axis {key!r} has no values")
            for item in values:
                if not isinstance(item, (str, int, float, bool)) or not _VALUE.match(format_value(item)):
                    raise ValueError(f"sweep axis {key!r}: value {item!r} must be a number, true/false or a word "
                                     "of letters, digits, '_', '.', '-' (it becomes part of a cell's name)")
            if len({format_value(v) for v in values}) != len(values):
                raise ValueError(f"sweep axis {key!r} lists a value twice: {values}")
        return value

    @model_validator(mode="after")
    def _references(self) -> ExperimentSpec:
        ids = [d.id for d in self.datasets]
        if len(set(ids)) != len(ids):
            raise ValueError(f"dataset ids must be unique, got {ids}")
        if self.table is None and not self.figures:
            raise ValueError("a spec needs a table or at least one figure (they say what is scored)")
        for column in self.table.columns if self.table else []:
            if column.dataset not in ids:
                raise ValueError(f"table column {column.title!r} names unknown dataset {column.dataset!r}; datasets: {ids}")
            unknown = set(column.paper) - set(self.models)
            if unknown:
                raise ValueError(f"table column {column.title!r} has paper numbers for models not in 'models': {sorted(unknown)}")
        if self.figures and any(d.x is None for d in self.datasets):
            raise ValueError("every dataset needs an 'x' value when the spec has figures")
        targets = {c.title for c in self.table.columns} if self.table else set()
        targets |= {f.id for f in self.figures}
        for claim in self.claims:
            if claim.target not in targets:
                raise ValueError(f"claim {claim.text!r}: 'target' must be a column title or figure id, one of {sorted(targets)}")
            for name in (claim.model, claim.other):
                if name is not None and name not in self.models:
                    raise ValueError(f"claim {claim.text!r} names model {name!r}, which is not in 'models'")
        for scale_name, scale in self.scales.items():
            if scale_name not in SCALES:
                raise ValueError(f"unknown scale {scale_name!r}; accepted: {', '.join(SCALES)}")
            unknown = set(scale.datasets or []) - set(ids)
            if unknown:
                raise ValueError(f"scale {scale_name!r} runs unknown dataset(s) {sorted(unknown)}; datasets: {ids}")
        return self

    # -- derived views ------------------------------------------------------

    def scale(self, name: str) -> Scale:
        if name not in self.scales:
            raise ConfigError(f"experiment {self.name!r} has no scale {name!r}; scales: {', '.join(self.scales)}")
        return self.scales[name]

    def datasets_at(self, scale: str) -> list[DatasetSpec]:
        """The datasets run at ``scale``, in spec order."""
        chosen = self.scale(scale).datasets
        return [d for d in self.datasets if chosen is None or d.id in chosen]

    def settings(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every combination of the sweep's axes, in spec order (one empty setting without a sweep)."""
        points: list[tuple[tuple[str, Any], ...]] = [()]
        for key, values in self.sweep.items():
            points = [(*point, (key, value)) for point in points for value in values]
        return points

    def dataset(self, dataset_id: str) -> DatasetSpec:
        return next(d for d in self.datasets if d.id == dataset_id)

    def splits_of(self, dataset_id: str) -> list[str]:
        """The splits a dataset's cells are scored on: those its table columns and the figures read."""
        splits = [c.split for c in self.table.columns if c.dataset == dataset_id] if self.table else []
        splits += [f.split for f in self.figures]
        return list(dict.fromkeys(splits))


# ---------------------------------------------------------------- loading


def default_scales() -> dict[str, dict[str, Any]]:
    """The package's scale defaults (``scales.yaml`` beside this module)."""
    text = resources.files("lolameme.experiments").joinpath("scales.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def spec_from_dict(raw: dict[str, Any], where: str = "spec") -> ExperimentSpec:
    """Validate a spec mapping, after merging each of its scales over the package defaults.

    Every scale of the defaults exists in every spec (a spec may only adjust
    them); a spec listing ``scales: {paper: null}`` leaves a scale out.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: an experiment spec is a mapping, got {type(raw).__name__}")
    defaults = default_scales()
    own = raw.get("scales") or {}
    if not isinstance(own, dict):
        raise ConfigError(f"{where}: 'scales' must be a mapping of scale name to settings")
    unknown = set(own) - set(defaults)
    if unknown:
        raise ConfigError(f"{where}: unknown scale(s) {sorted(unknown)}; accepted: {', '.join(defaults)}")
    scales = {name: deep_merge(base, own.get(name) or {}) for name, base in defaults.items()
              if not (name in own and own[name] is None)}
    try:
        spec = ExperimentSpec.model_validate({**raw, "scales": scales})
    except ValidationError as exc:
        raise ConfigError(f"{where}: invalid experiment spec: {validation_problems(exc)}") from None
    _check_train_keys(spec, where)
    return spec


def _check_train_keys(spec: ExperimentSpec, where: str) -> None:
    """Unknown training keys fail at load time, not an hour into a run."""
    accepted = set(TrainConfig.model_fields) - {"data", "out", "model", "tokenizer", "seed"}
    unknown = set(spec.sweep) - accepted
    if unknown:
        raise ConfigError(f"{where}: sweep has unknown or reserved axis key(s) {sorted(unknown)} (data, out, model, "
                          f"tokenizer and seed are set per cell); accepted: {', '.join(sorted(accepted))}")
    for scale_name, scale in spec.scales.items():
        unknown = set(scale.train) - accepted
        if unknown:
            raise ConfigError(f"{where}: scales.{scale_name}.train has unknown or reserved key(s) {sorted(unknown)} "
                              f"(data, out, model, tokenizer and seed are set per cell); accepted: {', '.join(sorted(accepted))}")


#: Environment variable naming extra spec directories (``os.pathsep``-separated), searched before the package's.
SPECS_ENV = "LOLAMEME_SPECS"


def package_spec_dir() -> Path:
    """The specs shipped inside the package (``lolameme/experiments/specs/``)."""
    return Path(__file__).resolve().parent / "specs"


def spec_dirs(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Where spec names are looked up, first match wins: ``extra`` (``--specs``), ``$LOLAMEME_SPECS``, the package.

    The package's own specs come last, so a user's spec of the same name
    replaces it; the working directory plays no part, so a name means the
    same spec wherever the command runs.
    """
    env = [p for p in os.environ.get(SPECS_ENV, "").split(os.pathsep) if p]
    for source, dirs in (("--specs", extra), (f"${SPECS_ENV}", env)):
        for directory in dirs:
            if not Path(directory).is_dir():
                raise ConfigError(f"{source} {directory}: not a directory (a folder of experiment .yaml specs)")
    return list(dict.fromkeys([*(Path(d) for d in extra), *(Path(d) for d in env), package_spec_dir()]))


def find_spec(name_or_path: str | Path, extra: Sequence[str | Path] = ()) -> Path:
    """A spec file from a path or a name (``thex-lola`` -> ``<spec dir>/thex-lola.yaml``)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"experiment spec {path} does not exist")
        return path
    dirs = spec_dirs(extra)
    for directory in dirs:
        candidate = directory / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in dirs for p in d.glob("*.yaml")})
    raise ConfigError(f"unknown experiment {str(name_or_path)!r}; known: {', '.join(known) or '(none found)'} "
                      f"(looked in {', '.join(str(d) for d in dirs)}; or pass a path to a .yaml file)")


def load_spec(name_or_path: str | Path, extra: Sequence[str | Path] = ()) -> ExperimentSpec:
    path = find_spec(name_or_path, extra)
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    return spec_from_dict(raw, where=str(path))


def list_specs(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Every spec file found in :func:`spec_dirs` (first directory wins on a name clash)."""
    found: dict[str, Path] = {}
    for directory in spec_dirs(extra):
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            found.setdefault(path.stem, path)
    return list(found.values())
