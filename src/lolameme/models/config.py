"""The model configuration and the compact layer specification.

A model is a stack of blocks, each written as ``kind:width``; a run of equal
layers is ``kind:width*count``. So the paper's THEX-9 is
``hyena:864*9,gpt2:768,hyena:864*8``. :class:`ModelConfig` holds that string
plus every hyperparameter needed to rebuild the model, and is validated once,
here, so the modules below can trust it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

from pydantic import ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from lolameme.errors import ModelError
from lolameme.validation import validation_problems

BLOCK_KINDS = ("gpt2", "hyena")
POS_ENCODINGS = ("learned", "none", "rotary")

_LAYER_RUN = re.compile(r"^\s*([A-Za-z0-9_]+)\s*:\s*(\d+)\s*(?:\*\s*(\d+)\s*)?$")


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One layer of the stack: its block kind and its width."""

    kind: str
    width: int


def parse_layers(spec: str) -> list[LayerSpec]:
    """Parse ``"hyena:864*9,gpt2:768,hyena:864*8"`` into one LayerSpec per layer."""
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
        kind, width, count = match.group(1).lower(), int(match.group(2)), match.group(3)
        if kind not in BLOCK_KINDS:
            raise ModelError(
                f"layer specification {spec!r}: unknown block kind {kind!r} in item "
                f"{position}; accepted kinds: {', '.join(BLOCK_KINDS)}"
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

    Widths live in ``layers``; the other fields apply to every layer of the
    kind they name. ``d_embed`` is the width of the token embedding, the
    residual stream entering the first layer and the tied output head; it
    defaults to the first layer's width (the THEX presets set it to the Hyena
    width so that THEX-0 has the same parameters as THEX-17).
    """

    layers: str
    vocab_size: int
    max_seq_len: int = 1024
    d_embed: int | None = None
    n_head: int = 12
    gpt2_mlp_ratio: int = 4
    hyena_mlp_ratio: int = 2
    hyena_order: int = 2
    hyena_filter_order: int = 64
    hyena_pos_emb_dim: int = 33
    hyena_short_filter: int = 3
    hyena_sine_freq: float = 14.0
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
        self._check(layers)

    def _check(self, layers: list[LayerSpec]) -> None:
        positive = (
            "vocab_size", "max_seq_len", "d_embed", "n_head", "gpt2_mlp_ratio",
            "hyena_mlp_ratio", "hyena_filter_order", "hyena_short_filter", "pad_vocab_multiple",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ModelError(f"model config: {name} must be a positive integer, got {getattr(self, name)}")
        for index, layer in enumerate(layers):
            if layer.kind == "gpt2" and layer.width % self.n_head:
                raise ModelError(
                    f"model config: layer {index} (gpt2:{layer.width}) has width {layer.width}, "
                    f"which n_head={self.n_head} does not divide; choose n_head dividing every gpt2 width"
                )
            if self.pos_encoding == "rotary" and layer.kind == "gpt2" and (layer.width // self.n_head) % 2:
                raise ModelError(
                    f"model config: rotary positions need an even head size, layer {index} has "
                    f"{layer.width}/{self.n_head} = {layer.width // self.n_head}"
                )
        if self.hyena_order < 2:
            raise ModelError(f"model config: hyena_order must be at least 2, got {self.hyena_order}")
        if self.hyena_pos_emb_dim < 3 or self.hyena_pos_emb_dim % 2 == 0:
            raise ModelError(
                "model config: hyena_pos_emb_dim must be odd and at least 3 "
                f"(one time feature plus cos/sin pairs), got {self.hyena_pos_emb_dim}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"model config: dropout must be in [0, 1), got {self.dropout}")

    # -- derived views -------------------------------------------------------------
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
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelError(
                f"model config: unknown key(s) {', '.join(unknown)}; accepted keys: {', '.join(sorted(known))}"
            )
        if "layers" not in values or values.get("vocab_size") is None:
            missing = [key for key in ("layers", "vocab_size") if values.get(key) is None]
            raise ModelError(f"model config: missing {', '.join(missing)} (needed to build a model)")
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ModelError(f"model config is invalid: {validation_problems(exc)}") from None
