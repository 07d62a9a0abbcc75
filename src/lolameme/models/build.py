"""From a preset name or a layer specification (plus overrides) to a model."""

from __future__ import annotations

import difflib
from typing import Any

from lolameme.errors import ModelError
from lolameme.models.config import ModelConfig, nest_mixer_options, parse_layers
from lolameme.models.presets import preset_config, preset_description, preset_names
from lolameme.models.stack import StackModel


def resolve_config(name_or_spec: str, vocab_size: int | None = None, **overrides: Any) -> ModelConfig:
    """The validated config that ``build_model`` would build (without building it).

    ``name_or_spec`` is a preset name (``lolameme models`` lists them) or a
    layer specification such as ``"hyena:864*9,gpt2:768,hyena:864*8"``, which
    starts from the ModelConfig defaults. ``overrides`` are ModelConfig fields,
    or a mixer family's options (``n_head=4``, ``hyena_order=3``, or
    ``mixers={"hyena": {"order": 3}}``), merged into the preset's.
    """
    if not isinstance(name_or_spec, str):
        raise ModelError(f"model must be named by a preset name or a layer specification string, got {name_or_spec!r}")
    values = preset_config(name_or_spec)
    if values is None:
        if ":" not in name_or_spec:
            close = difflib.get_close_matches(name_or_spec, preset_names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ModelError(
                f"unknown model preset {name_or_spec!r}{hint} (`lolameme models` lists the presets; "
                "a layer specification looks like 'hyena:864*9,gpt2:768,hyena:864*8')"
            )
        values = {"layers": name_or_spec}
    parse_layers(values.get("layers", ""))  # a bad specification is the first thing to report
    values, overrides = nest_mixer_options(values), nest_mixer_options(overrides)
    mixers = {kind: dict(options) for kind, options in values.get("mixers", {}).items()}
    for kind, options in overrides.get("mixers", {}).items():
        mixers[kind] = {**mixers.get(kind, {}), **options}
    values = {**values, **overrides, "mixers": mixers}
    if vocab_size is not None:
        values["vocab_size"] = vocab_size
    if values.get("vocab_size") is None:
        raise ModelError(
            f"model {name_or_spec!r} needs vocab_size (the tokenizer's vocabulary size); "
            "only the paper presets have a default (GPT-2's 50257)"
        )
    return ModelConfig.from_dict(values)


def build_model(name_or_spec: str, vocab_size: int | None = None, **overrides: Any) -> StackModel:
    """Build a freshly initialised model; see :func:`resolve_config` for the arguments."""
    return StackModel(resolve_config(name_or_spec, vocab_size, **overrides))


def model_from_config(config: ModelConfig | dict[str, Any]) -> StackModel:
    """Rebuild the architecture recorded by ``model.config`` or ``model.config.to_dict()``."""
    if not isinstance(config, ModelConfig):
        config = ModelConfig.from_dict(config)
    return StackModel(config)


def list_presets() -> list[tuple[str, str]]:
    """(name, description) for every preset, in display order."""
    return [(name, preset_description(name)) for name in preset_names()]
