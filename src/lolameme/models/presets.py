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
    presets: dict[str, tuple[dict[str, Any], str]] = {}
    for scale, entry in yaml.safe_load(text).items():
        families = entry["families"]
        stacks = {name: [LayerSpec(name, family["width"])] * family["depth"] for name, family in families.items()}
        configs = {name: {**entry["config"], **family["config"]} for name, family in families.items()}
        for name, family in families.items():
            presets[_name(name, scale)] = (
                {**configs[name], "layers": format_layers(stacks[name])}, f"{family['about']}, {entry['about']}"
            )
        for hybrid, spec in entry.get("hybrids", {}).items():
            base, inserted = stacks[spec["base"]], stacks[spec["insert"]][0]
            config = {**configs[spec["base"]], "d_embed": base[0].width}
            for index in range(len(base)):
                layers = base[:index] + [inserted] + base[index + 1 :]
                presets[_name(hybrid, scale, index)] = (
                    {**config, "layers": format_layers(layers)}, f"{spec['about'].format(n=index)}, {entry['about']}"
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
