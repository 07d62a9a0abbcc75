"""Experiment specs list mixer families, presets and layer specifications beside the paper's models."""

from __future__ import annotations

import copy

import yaml

from lolameme.experiments.cells import enumerate_cells, seed_list
from lolameme.experiments.models import model_mapping
from lolameme.experiments.report import display_name
from lolameme.experiments.spec import load_spec, spec_from_dict


def test_a_spec_may_add_mamba_rows_marked_as_not_in_the_paper():
    raw = copy.deepcopy(yaml.safe_load(load_spec.__globals__["find_spec"]("thex-lola").read_text()))
    raw["models"] = [*raw["models"], "mamba", "mamba-small", "mamba:64*2,gpt2:64"]
    spec = spec_from_dict(raw, where="test.yaml")
    mapping = model_mapping(spec.models, "tiny")
    assert mapping["mamba"] == "mamba-tiny" and mapping["mamba-small"] == "mamba-small"
    assert mapping["mamba:64*2,gpt2:64"] == "mamba:64*2,gpt2:64" and mapping["gpt2"] == "gpt2-tiny"
    assert display_name("mamba") == "Mamba (not in the paper)" and display_name("gpt2") == "GPT-2"
    assert display_name("thex-3") == "THEX-3"
    ids = {cell.id for cell in enumerate_cells(spec, "tiny", seed_list(1))}
    assert any(cell.endswith("--mamba_64_2_gpt2_64--s0") for cell in ids)
    assert all(":" not in cell and "*" not in cell for cell in ids)
