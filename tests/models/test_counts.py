"""Parameter counts of the paper presets (built on the meta device) and adapter placement."""

from __future__ import annotations

import pytest
import torch

from lolameme.models import build_model

PAPER_COUNTS = {"gpt2": 124_439_808, "hyena": 153_700_416}
THEX_COUNT = 155_990_880
HYENA_BLOCK, GPT2_BLOCK, ADAPTERS = 6_126_144, 7_087_872, 1_328_736


def meta_model(name: str, **overrides):
    with torch.device("meta"):
        return build_model(name, **overrides)


def block_count(module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


@pytest.mark.parametrize("name", ["gpt2", "hyena"])
def test_paper_baselines_have_the_papers_parameter_counts(name):
    assert meta_model(name).num_parameters() == PAPER_COUNTS[name]


@pytest.mark.parametrize("index", range(18))
def test_every_thex_has_the_papers_parameter_count_and_adapters_only_at_width_changes(index):
    model = meta_model(f"thex-{index}")
    assert model.num_parameters() == THEX_COUNT
    assert model.num_parameters() == PAPER_COUNTS["hyena"] - HYENA_BLOCK + GPT2_BLOCK + ADAPTERS
    assert [block.kind for block in model.layers] == ["hyena"] * index + ["gpt2"] + ["hyena"] * (17 - index)
    after = f"into_{index + 1}" if index < 17 else "into_head"
    assert sorted(model.adapters) == sorted([f"into_{index}", after])
    assert (model.adapters[f"into_{index}"].in_features, model.adapters[f"into_{index}"].out_features) == (864, 768)
    assert (model.adapters[after].in_features, model.adapters[after].out_features) == (768, 864)


def test_block_counts_match_the_pinned_values():
    hyena, thex = meta_model("hyena"), meta_model("thex-9")
    assert block_count(hyena.layers[0]) == HYENA_BLOCK
    assert block_count(thex.layers[9]) == GPT2_BLOCK
    assert sum(block_count(adapter) for adapter in thex.adapters.values()) == ADAPTERS
    # Hyena pads the vocabulary to a multiple of 8 and counts its positional features (2048 x 33).
    assert hyena.token_embedding.weight.shape == (50264, 864)
    assert hyena.layers[0].mixer.filter.pos_features.shape == (2048, 33)


def test_hybrids_of_any_shape_get_adapters_exactly_where_widths_change():
    model = meta_model("gpt2:64*2,hyena:72,gpt2:64,hyena:96*2", vocab_size=50, n_head=4)
    assert model.config.d_embed == 64
    assert sorted(model.adapters) == ["into_2", "into_3", "into_4", "into_head"]
    uniform = meta_model("gpt2:64,hyena:64*2", vocab_size=50, n_head=4)
    assert len(uniform.adapters) == 0


def test_learned_positions_add_exactly_context_times_width():
    with_positions = meta_model("hyena-tiny", vocab_size=50, pos_encoding="learned", max_seq_len=128)
    without = meta_model("hyena-tiny", vocab_size=50, pos_encoding="none", max_seq_len=128)
    assert with_positions.num_parameters() - without.num_parameters() == 128 * 144


def test_training_flops_follow_the_standard_formula_for_gpt2():
    from lolameme.models import resolve_config
    from lolameme.models.flops import training_flops_per_token

    config = resolve_config("gpt2")
    block_matmul = 12 * 768 * 768  # q, k, v, proj (4 d^2) + MLP (8 d^2)
    head = 768 * 50257
    expected = 6 * (12 * block_matmul + head) + 12 * 12 * 768 * 1024  # 6N + 12 L d T (PaLM)
    assert training_flops_per_token(config, 1024) == expected
    # Attention's cost per token grows like T, Hyena's like log T.
    growth = training_flops_per_token(config, 1024) - training_flops_per_token(config, 128)
    assert growth == 12 * 12 * 768 * (1024 - 128)
    hyena = resolve_config("hyena")
    per_log2 = training_flops_per_token(hyena, 2048) - training_flops_per_token(hyena, 1024)
    assert per_log2 == pytest.approx(training_flops_per_token(hyena, 1024) - training_flops_per_token(hyena, 512))
