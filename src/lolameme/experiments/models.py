"""Paper model names (``gpt2``, ``hyena``, ``thex-N``) -> model-zoo presets at a scale.

The paper's THEX-N replaces layer N (0-based, from the input) of an 18-layer
Hyena. A scaled Hyena has L layers, so each of its layers stands for a block
of 18/L paper layers; THEX-N becomes the scaled layer whose block holds paper
layer N::

    scaled index = floor(N * L / 18)

At the tiny depth (L = 6) that is N // 3: paper layers 12-14 -> 4, 15-17 -> 5,
so THEX-13 and THEX-15 stay distinct models. (Rounding N * (L-1) / 17 instead
would send both to 4.) Several paper models can land on one scaled model;
they are then trained once, and the report says which rows share a model.
"""

from __future__ import annotations

import functools

from lolameme.errors import ConfigError
from lolameme.experiments.spec import PAPER_DEPTH, check_model_name, is_paper_model


@functools.cache
def hyena_depth(model_scale: str) -> int:
    """Number of Hyena layers of the model zoo's Hyena preset at ``model_scale``."""
    from lolameme.models import resolve_config

    name = "hyena" if model_scale == "paper" else f"hyena-{model_scale}"
    try:
        return resolve_config(name, vocab_size=64).n_layer
    except Exception as exc:  # ModelError: the model zoo lacks the scale
        raise ConfigError(f"the model zoo has no Hyena preset {name!r} for scale {model_scale!r}: {exc}") from exc


def thex_layer(paper_index: int, depth: int) -> int:
    """Scaled layer index of paper THEX-``paper_index`` in a Hyena of ``depth`` layers."""
    if not 0 <= paper_index < PAPER_DEPTH:
        raise ConfigError(f"THEX layer {paper_index} is outside the paper's 0..{PAPER_DEPTH - 1}")
    return paper_index * depth // PAPER_DEPTH


def preset_for(paper_model: str, model_scale: str) -> str:
    """The model-zoo preset (or layer specification) that plays ``paper_model`` at ``model_scale``.

    Besides the paper's names, a spec may list a mixer family (its preset at
    the scale, ``mamba`` -> ``mamba-tiny``), a preset or a layer
    specification (both used as they are); those rows are not in the paper.
    """
    from lolameme.models.presets import preset_names

    try:
        check_model_name(paper_model)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not is_paper_model(paper_model):
        if paper_model in preset_names() or ":" in paper_model:
            return paper_model
        preset = paper_model if model_scale == "paper" else f"{paper_model}-{model_scale}"
        if preset not in preset_names():
            raise ConfigError(f"mixer family {paper_model!r} has no preset at scale {model_scale!r} (no {preset!r}); "
                              "list a preset or a layer specification instead")
        return preset
    family, _, index = paper_model.partition("-")
    suffix = "" if model_scale == "paper" else f"-{model_scale}"
    if family != "thex":
        return f"{family}{suffix}"
    return f"thex{suffix}-{thex_layer(int(index), hyena_depth(model_scale))}"


def model_mapping(paper_models: list[str], model_scale: str) -> dict[str, str]:
    """paper name -> preset, in the order given."""
    return {name: preset_for(name, model_scale) for name in paper_models}


def describe_mapping(mapping: dict[str, str], model_scale: str) -> str:
    """One line per preset, listing the paper models it plays (printed by ``run`` and in reports)."""
    by_preset: dict[str, list[str]] = {}
    for paper, preset in mapping.items():
        by_preset.setdefault(preset, []).append(paper)
    lines = []
    if any(name.startswith("thex") for name in mapping):
        depth = hyena_depth(model_scale)
        lines.append(f"THEX layers mapped from paper depth {PAPER_DEPTH} to {depth} at scale "
                     f"{model_scale!r}: floor(N * {depth} / {PAPER_DEPTH})")
    for preset, papers in by_preset.items():
        lines.append(f"  {preset:<16} <- {', '.join(papers)}")
    return "\n".join(lines)
