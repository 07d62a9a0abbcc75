"""Per-family optimiser groups: Hyena's filters never decay, other matrices do, and lr scales apply."""

from __future__ import annotations

import pytest
import torch

from lolameme.errors import ConfigError
from lolameme.models import build_model
from lolameme.models.hyena import ImplicitFilter
from lolameme.models.param_groups import parameter_groups


def _names(model, group):
    ids = {id(p) for p in group["params"]}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def test_hyena_filter_parameters_form_their_own_undecayed_group():
    model = build_model("thex-tiny-1", vocab_size=40, max_seq_len=32)
    groups = {g["name"]: g for g in parameter_groups(model, weight_decay=0.1)}
    assert set(groups) == {"decay", "no_decay", "hyena_filter"}
    assert groups["decay"]["weight_decay"] == 0.1
    assert groups["no_decay"]["weight_decay"] == groups["hyena_filter"]["weight_decay"] == 0.0
    filters = _names(model, groups["hyena_filter"])
    # the sine MLP's matrices and biases, the shared sine frequency and the skip term of every Hyena layer
    assert any(n.endswith("filter.hidden.0.weight") for n in filters)
    assert any(n.endswith("filter.out.weight") for n in filters)
    assert any(n.endswith("filter.sine_freq") for n in filters)
    assert all(".filter." in n for n in filters)
    assert not any(n.endswith("pos_features") for groups_ in groups.values() for n in _names(model, groups_))
    decayed = _names(model, groups["decay"])
    assert "token_embedding.weight" in decayed and any("mixer.in_proj.weight" in n for n in decayed)
    assert any("mixer.qkv.weight" in n for n in decayed)
    assert not any(".filter." in n for n in decayed)
    assert all(p.dim() < 2 for p in groups["no_decay"]["params"])
    # every trainable parameter in exactly one group
    every = [id(p) for g in groups.values() for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in model.parameters() if p.requires_grad)
    n_filter_modules = sum(isinstance(m, ImplicitFilter) for m in model.modules())
    assert n_filter_modules == 5 and len(groups["hyena_filter"]["params"]) == 5 * 9


def test_gpt2_has_no_filter_group_and_lr_scales_are_kept():
    model = build_model("gpt2-tiny", vocab_size=40, max_seq_len=32)
    groups = parameter_groups(model, 0.1, lr_scale={"no_decay": 0.5})
    assert [g["name"] for g in groups] == ["decay", "no_decay"]
    assert [g["lr_scale"] for g in groups] == [1.0, 0.5]
    torch.optim.AdamW(groups, lr=1e-3)  # the extra keys are accepted by the optimiser


@pytest.mark.parametrize("scales,needle", [({"filters": 2.0}, "unknown parameter group"), ({"decay": 0}, "positive")])
def test_bad_lr_scales_are_config_errors(scales, needle):
    model = build_model("hyena-tiny", vocab_size=40, max_seq_len=32)
    with pytest.raises(ConfigError, match=needle):
        parameter_groups(model, 0.1, lr_scale=scales)


def test_the_trainer_optimizer_uses_the_groups_and_the_configured_lr_scale():
    from lolameme.train.config import make_config
    from lolameme.train.optim import build_optimizer, set_lr

    model = build_model("hyena:16*2", vocab_size=20, max_seq_len=16)
    cfg = make_config({"data": "d", "out": "o", "steps": 1, "weight_decay": 0.2, "lr_scale": {"hyena_filter": 0.5}})
    optimizer = build_optimizer(model, cfg)
    set_lr(optimizer, 0.01)
    by_name = {g["name"]: g for g in optimizer.param_groups}
    assert by_name["hyena_filter"]["lr"] == 0.005 and by_name["hyena_filter"]["weight_decay"] == 0.0
    assert by_name["decay"]["lr"] == 0.01 and by_name["decay"]["weight_decay"] == 0.2
    bad = make_config({"data": "d", "out": "o", "steps": 1, "lr_scale": {"filter": 0.5}})
    with pytest.raises(ConfigError, match="hyena_filter"):
        build_optimizer(model, bad)


def test_parameters_a_mixer_marks_are_not_decayed():
    from lolameme.models import build_model

    model = build_model("mamba:32*1", vocab_size=20, max_seq_len=16)
    groups = {g["name"]: {id(p) for p in g["params"]} for g in parameter_groups(model, weight_decay=0.1)}
    marked = [p for p in model.parameters() if getattr(p, "_no_weight_decay", False)]
    assert marked and all(id(p) in groups["no_decay"] and id(p) not in groups["decay"] for p in marked)
