"""Layer specifications, config validation and the preset registry."""

from __future__ import annotations

import json

import pytest

from lolameme.errors import ModelError
from lolameme.models import (
    LayerSpec,
    ModelConfig,
    build_model,
    format_layers,
    list_presets,
    model_from_config,
    parse_layers,
    resolve_config,
)


def test_parse_layers_expands_runs_and_format_folds_them_back():
    layers = parse_layers("hyena:864*9, gpt2:768 ,hyena:864*8")
    assert len(layers) == 18
    assert layers[9] == LayerSpec("gpt2", 768)
    assert {layer.kind for layer in layers[:9] + layers[10:]} == {"hyena"}
    assert format_layers(layers) == "hyena:864*9,gpt2:768,hyena:864*8"
    assert format_layers(parse_layers("gpt2:64,gpt2:64,hyena:72")) == "gpt2:64*2,hyena:72"


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("", "empty"),
        ("attn:768", "unknown block kind 'attn'"),
        ("gpt2:768,", "item 1"),
        ("gpt2", "item 0"),
        ("gpt2:0", "width must be positive"),
        ("gpt2:64*0", "count must be positive"),
        ("gpt2:sixty", "item 0"),
    ],
)
def test_bad_layer_specifications_are_model_errors(spec, fragment):
    with pytest.raises(ModelError, match=fragment):
        parse_layers(spec)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"n_head": 5}, "n_head=5 does not divide"),
        ({"dropout": 1.0}, "dropout"),
        ({"hyena_pos_emb_dim": 4}, "odd"),
        ({"hyena_order": 1}, "at least 2"),
        ({"max_seq_len": 0}, "max_seq_len"),
        ({"pos_encoding": "alibi"}, "pos_encoding"),
        ({"colour": "red"}, "unknown key.*colour"),
        ({"vocab_size": "many"}, "vocab_size"),
    ],
)
def test_bad_configs_name_the_problem(overrides, fragment):
    with pytest.raises(ModelError, match=fragment):
        build_model("gpt2:64*2,hyena:72", **{"vocab_size": 11, "n_head": 4, **overrides})


def test_unknown_preset_suggests_close_names_and_missing_vocab_is_explained():
    with pytest.raises(ModelError, match="did you mean.*gpt2-tiny"):
        build_model("gpt2-tny", vocab_size=10)
    with pytest.raises(ModelError, match="needs vocab_size"):
        build_model("hyena-tiny")


def test_config_round_trips_through_json():
    model = build_model("thex-tiny-2", vocab_size=37, max_seq_len=64, pos_encoding="rotary")
    data = json.loads(json.dumps(model.config.to_dict()))
    rebuilt = model_from_config(data)
    assert rebuilt.config == model.config
    assert [name for name, _ in rebuilt.named_parameters()] == [name for name, _ in model.named_parameters()]
    assert model_from_config(model.config).config == model.config


def test_d_embed_defaults_to_first_layer_width_and_thex_presets_use_hyena_width():
    assert resolve_config("gpt2:64,hyena:72", vocab_size=5, n_head=4).d_embed == 64
    assert resolve_config("thex-0").d_embed == 864
    assert resolve_config("thex-tiny-0", vocab_size=5).d_embed == 144


def test_presets_cover_every_family_and_thex_index_at_each_scale():
    names = [name for name, _ in list_presets()]
    assert len(names) == len(set(names))
    assert {"gpt2", "hyena", "gpt2-tiny", "hyena-tiny", "gpt2-small", "hyena-small"} <= set(names)
    assert [n for n in names if n.startswith("thex-") and n[5:].isdigit()] == [f"thex-{i}" for i in range(18)]
    tiny_depth = resolve_config("hyena-tiny", vocab_size=5).n_layer
    small_depth = resolve_config("hyena-small", vocab_size=5).n_layer
    assert [n for n in names if n.startswith("thex-tiny-")] == [f"thex-tiny-{i}" for i in range(tiny_depth)]
    assert [n for n in names if n.startswith("thex-small-")] == [f"thex-small-{i}" for i in range(small_depth)]


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_cpu_scales_keep_the_papers_width_and_depth_ratios(scale):
    gpt2 = resolve_config(f"gpt2-{scale}", vocab_size=5).layer_specs
    hyena = resolve_config(f"hyena-{scale}", vocab_size=5).layer_specs
    assert hyena[0].width * 768 == gpt2[0].width * 864  # 9 : 8
    assert len(hyena) * 12 == len(gpt2) * 18  # 3 : 2
    thex = resolve_config(f"thex-{scale}-1", vocab_size=5).layer_specs
    assert thex[1] == gpt2[0] and thex[:1] + thex[2:] == hyena[:-1]


def test_overrides_apply_to_presets():
    config = resolve_config("gpt2-tiny", vocab_size=40, max_seq_len=256, dropout=0.2, pos_encoding="rotary")
    assert (config.vocab_size, config.max_seq_len, config.dropout, config.pos_encoding) == (40, 256, 0.2, "rotary")
    assert isinstance(config, ModelConfig)
