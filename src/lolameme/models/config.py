"""The model configuration and the compact layer specification.

A model is a stack of blocks, each written as ``kind:width``; a run of equal
layers is ``kind:width*count``. So the paper's THEX-9 is
``hyena:864*9,gpt2:768,hyena:864*8``. :class:`ModelConfig` holds that string,
the options of each mixer family it uses (``mixers``, validated by the
family's own pydantic model, see :mod:`lolameme.models.registry`) and the
options shared by every layer, and is validated once, here, so the modules
below can trust it.

A family's option is also accepted flat, at the loading edge only:
``<family>_<option>`` (``hyena_order=3``, ``mamba_d_state=8``), or the bare
option name where exactly one registered family has it (``n_head=8``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

from pydantic import ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from lolameme.errors import ModelError
from lolameme.models.registry import get_mixer, is_mixer_name, mixer_names
from lolameme.validation import validation_problems

POS_ENCODINGS = ("learned", "none", "rotary")

# kind: a registered name, or package.module:ClassName (a user's mixer class)
_LAYER_RUN = re.compile(r"^\s*((?:[A-Za-z_][\w.]*:)?[A-Za-z0-9_]+)\s*:\s*(\d+)\s*(?:\*\s*(\d+)\s*)?$")


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One layer of the stack: its block kind and its width."""

    kind: str
    width: int


def parse_layers(spec: str) -> list[LayerSpec]:
    """Parse ``"hyena:864*9,gpt2:768,hyena:864*8"`` into one LayerSpec per layer.

    A kind is a registered mixer name (:mod:`lolameme.models.registry`) or a
    user's class, ``package.module:ClassName:width*count``. Only names are
    checked here; a class is imported when a config is built from the spec.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelError(
            "layer specification is empty; write it as comma-separated "
            "'kind:width' or 'kind:width*count', e.g. 'hyena:864*9,gpt2:768,hyena:864*8'"
        )
    layers: list[LayerSpec] = []
    for position, part in enumerate(spec.split(",")):
        match = _LAYER_RUN.match(part)
        if match is None:
            raise ModelError(
                f"layer specification {spec!r}: item {position} ({part.strip()!r}) is not "
                "'kind:width' or 'kind:width*count' (e.g. 'gpt2:768' or 'hyena:864*9')"
            )
        kind, width, count = match.group(1), int(match.group(2)), match.group(3)
        kind = kind if ":" in kind else kind.lower()  # a user's class keeps its spelling
        if not is_mixer_name(kind):
            raise ModelError(
                f"layer specification {spec!r}: unknown block kind {kind!r} in item "
                f"{position}; accepted kinds: {', '.join(mixer_names())}, or package.module:ClassName"
            )
        if width < 1:
            raise ModelError(f"layer specification {spec!r}: width must be positive in item {position}")
        repeat = 1 if count is None else int(count)
        if repeat < 1:
            raise ModelError(f"layer specification {spec!r}: count must be positive in item {position}")
        layers.extend(LayerSpec(kind, width) for _ in range(repeat))
    return layers


def format_layers(layers: list[LayerSpec]) -> str:
    """The canonical compact string for a list of layers (runs folded into ``*count``)."""
    runs: list[list[Any]] = []
    for layer in layers:
        if runs and runs[-1][0] == layer:
            runs[-1][1] += 1
        else:
            runs.append([layer, 1])
    return ",".join(
        f"{layer.kind}:{layer.width}" + (f"*{count}" if count > 1 else "") for layer, count in runs
    )


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ModelConfig:
    """Everything needed to rebuild a model (``to_dict`` / ``model_from_config``).

    Widths live in ``layers``; ``mixers`` holds, for every family the layers
    use, its options with defaults filled in (``{"gpt2": {"n_head": 12,
    "mlp_ratio": 4}}``); the other fields apply to every layer. ``d_embed`` is
    the width of the token embedding, the residual stream entering the first
    layer and the tied output head; it defaults to the first layer's width
    (the THEX presets set it to the Hyena width so that THEX-0 has the same
    parameters as THEX-17).
    """

    layers: str
    vocab_size: int
    max_seq_len: int = 1024
    d_embed: int | None = None
    mixers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    dropout: float = 0.1
    pos_encoding: Literal[POS_ENCODINGS] = "learned"  # type: ignore[valid-type]
    rotary_base: float = 10000.0
    pad_vocab_multiple: int = 1
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02

    def __post_init__(self) -> None:
        layers = parse_layers(self.layers)
        # Store the canonical spelling, so equal architectures compare equal.
        object.__setattr__(self, "layers", format_layers(layers))
        if self.d_embed is None:
            object.__setattr__(self, "d_embed", layers[0].width)
        object.__setattr__(self, "mixers", _resolve_mixer_options(layers, self.mixers))
        self._check(layers)

    def _check(self, layers: list[LayerSpec]) -> None:
        for name in ("vocab_size", "max_seq_len", "d_embed", "pad_vocab_multiple"):
            if getattr(self, name) < 1:
                raise ModelError(f"model config: {name} must be a positive integer, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"model config: dropout must be in [0, 1), got {self.dropout}")
        for index, layer in enumerate(layers):
            mixer = get_mixer(layer.kind)
            if mixer.check is not None:
                try:
                    mixer.check(layer.width, self.options(layer.kind), self)
                except ModelError as exc:
                    raise ModelError(f"model config: layer {index} ({layer.kind}:{layer.width}): {exc}") from None

    # -- derived views -------------------------------------------------------------
    def options(self, kind: str) -> Any:
        """The validated options (the family's pydantic model) of mixer family ``kind``."""
        return get_mixer(kind).resolve(self.mixers[kind])

    @property
    def layer_specs(self) -> list[LayerSpec]:
        """One LayerSpec per layer, input side first."""
        return parse_layers(self.layers)

    @property
    def n_layer(self) -> int:
        return len(self.layer_specs)

    @property
    def padded_vocab_size(self) -> int:
        """Rows of the embedding table: vocab_size rounded up to pad_vocab_multiple."""
        multiple = self.pad_vocab_multiple
        return -(-self.vocab_size // multiple) * multiple

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``model_from_config`` of it rebuilds the same architecture."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        """Validate a dict (e.g. read from config.json), raising ModelError on any problem."""
        if not isinstance(values, dict):
            raise ModelError(f"model config must be a mapping, got {type(values).__name__}")
        values = nest_mixer_options(values)
        if "layers" not in values or values.get("vocab_size") is None:
            missing = [key for key in ("layers", "vocab_size") if values.get(key) is None]
            raise ModelError(f"model config: missing {', '.join(missing)} (needed to build a model)")
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ModelError(f"model config is invalid: {validation_problems(exc)}") from None


def _resolve_mixer_options(layers: list[LayerSpec], given: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every used family's options, validated with defaults; options of unused families are checked, then dropped."""
    used = list(dict.fromkeys(layer.kind for layer in layers))
    for kind in given:
        if kind not in used and not is_mixer_name(kind):
            raise ModelError(f"model config: mixers has options for unknown mixer {kind!r}; mixers: {', '.join(mixer_names())}")
        if kind not in used:
            get_mixer(kind).resolve(given[kind])
    return {kind: get_mixer(kind).resolve(given.get(kind)).model_dump() for kind in used}


def nest_mixer_options(values: dict[str, Any]) -> dict[str, Any]:
    """Move flat family options (``hyena_order``, ``n_head``) into ``mixers`` (see the module docstring)."""
    known = {field.name for field in dataclasses.fields(ModelConfig)}
    flat = [key for key in values if key not in known]
    if not flat:
        return values
    out = {key: value for key, value in values.items() if key in known}
    mixers = {kind: dict(options) for kind, options in (values.get("mixers") or {}).items()}
    fields = {name: set(get_mixer(name).options.model_fields) for name in mixer_names()}
    for key in flat:
        owners = [(name, key[len(name) + 1 :]) for name in fields if key.startswith(f"{name}_") and key[len(name) + 1 :] in fields[name]]
        owners = owners or [(name, key) for name in fields if key in fields[name]]
        if len(owners) != 1:
            spelled = sorted(f"{name}_{option}" for name in fields for option in fields[name])
            why = f"ambiguous key {key!r} (write one of {', '.join(f'{n}_{o}' for n, o in owners)})" if owners else f"unknown key(s) {key}"
            raise ModelError(
                f"model config: {why}; accepted keys: {', '.join(sorted(known))}, "
                f"or a mixer option as <mixer>_<option>: {', '.join(spelled)}"
            )
        name, option = owners[0]
        mixers.setdefault(name, {})[option] = values[key]
    return {**out, "mixers": mixers}
