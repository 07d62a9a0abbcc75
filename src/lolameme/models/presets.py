"""Named presets, expanded from ``presets.yaml`` (the data) into config dicts.

A preset is a partial :class:`~lolameme.models.config.ModelConfig` as a dict:
the CPU scales leave ``vocab_size`` out, since it comes from the tokenizer.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from lolameme.models.config import format_layers, LayerSpec

PAPER_SCALE = "paper"


def _name(family: str, scale: str, layer: int | None = None) -> str:
    parts = [family] + ([] if scale == PAPER_SCALE else [scale]) + ([] if layer is None else [str(layer)])
    return "-".join(parts)


@functools.cache
def _presets() -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (config dict, one-line description), in display order."""
    text = resources.files("lolameme.models").joinpath("presets.yaml").read_text(encoding="utf-8")
    scales = yaml.safe_load(text)
    presets: dict[str, tuple[dict[str, Any], str]] = {}
    for scale, entry in scales.items():
        gpt2, hyena = entry["gpt2"], entry["hyena"]
        gpt2_layer = LayerSpec("gpt2", gpt2["width"])
        hyena_layers = [LayerSpec("hyena", hyena["width"])] * hyena["depth"]
        gpt2_config = {**entry["config"], **entry["gpt2_config"]}
        hyena_config = {**entry["config"], **entry["hyena_config"], "d_embed": hyena["width"]}
        presets[_name("gpt2", scale)] = (
            {**gpt2_config, "layers": format_layers([gpt2_layer] * gpt2["depth"])},
            f"GPT-2, {entry['about']}",
        )
        presets[_name("hyena", scale)] = (
            {**hyena_config, "layers": format_layers(hyena_layers)},
            f"Hyena, {entry['about']}",
        )
        for index in range(hyena["depth"]):
            layers = hyena_layers[:index] + [gpt2_layer] + hyena_layers[index + 1 :]
            presets[_name("thex", scale, index)] = (
                {**hyena_config, "layers": format_layers(layers)},
                f"THEX-{index}: Hyena with layer {index} replaced by GPT-2, {entry['about']}",
            )
    return presets


def preset_names() -> list[str]:
    return list(_presets())


def preset_config(name: str) -> dict[str, Any] | None:
    """The preset's (partial) config dict, or None if there is no such preset."""
    found = _presets().get(name)
    return None if found is None else dict(found[0])


def preset_description(name: str) -> str:
    return _presets()[name][1]
