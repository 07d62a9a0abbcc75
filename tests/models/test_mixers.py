"""The mixer registry: every registered mixer is causal, and a user's mixer works without editing the package."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lolameme.errors import ModelError
from lolameme.models import build_model, check_causal, get_mixer, mixer_names, parse_layers

USER_MIXERS = '''
import torch
from torch import nn


class GatedShift(nn.Module):
    """A user's mixer: mixes each position with its predecessor, gated."""

    residual_projections = ("out.weight",)
    mlp_ratio = 2

    def __init__(self, width, shift=1):
        super().__init__()
        self.shift = shift
        self.gate = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x):
        past = torch.nn.functional.pad(x, (0, 0, self.shift, 0))[:, : x.shape[1]]
        return self.out(torch.sigmoid(self.gate(x)) * past)


class Peeks(GatedShift):
    """Not causal: looks one position ahead."""

    def forward(self, x):
        ahead = torch.cat([x[:, 1:], x[:, -1:]], dim=1)
        return self.out(ahead)


class NoWidth(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x


class TwoInputs(nn.Module):
    def __init__(self, width):
        super().__init__()

    def forward(self, x, mask):
        return x


class Fails(nn.Module):
    def __init__(self, width):
        super().__init__()
        raise RuntimeError("out of ideas")

    def forward(self, x):
        return x
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of mixers in its own file, importable as ``user_mixers_<n>`` (fresh per test)."""
    name = f"user_mixers_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_MIXERS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.mark.parametrize("kind", mixer_names())  # built-ins and every installed entry point
def test_every_registered_mixer_is_causal(kind):
    torch.manual_seed(0)
    options = {"n_head": 4} if kind == "gpt2" else {}
    check_causal(kind, width=32, seq_len=24, **options)


def test_the_causality_check_catches_a_leak_of_one_position(user_module):
    check_causal(f"{user_module}:GatedShift", width=16)
    with pytest.raises(ModelError, match="is not causal.*positions 0"):
        check_causal(f"{user_module}:Peeks", width=16)


def test_a_user_mixer_builds_from_a_layer_spec_with_its_options(user_module):
    spec = f"{user_module}:GatedShift:16*2,gpt2:32"
    assert [layer.kind for layer in parse_layers(spec)] == [f"{user_module}:GatedShift"] * 2 + ["gpt2"]
    torch.manual_seed(0)
    model = build_model(spec, vocab_size=11, n_head=4, max_seq_len=8, mixers={f"{user_module}:GatedShift": {"shift": 2}})
    assert model.layers[0].mixer.shift == 2 and model.layers[0].mlp.fc_in.out_features == 32  # mlp_ratio 2
    assert model.config.mixers[f"{user_module}:GatedShift"] == {"mlp_ratio": 2, "shift": 2}
    # Its declared residual projection gets the scaled initialisation, as the built-ins' do.
    assert "layers.0.mixer.out.weight" in model.residual_projections()
    assert model(torch.randint(0, 11, (2, 8))).shape == (2, 8, 11)
    from lolameme.models import model_from_config

    assert model_from_config(model.config.to_dict()).config == model.config


def test_a_user_mixer_gets_a_flop_count_from_its_parameters(user_module):
    from lolameme.models import resolve_config
    from lolameme.models.flops import forward_flops_per_token

    config = resolve_config(f"{user_module}:GatedShift:16", vocab_size=10)
    mixer_parameters = 2 * (16 * 16 + 16)
    assert forward_flops_per_token(config, 8) == 2 * mixer_parameters + 2 * 2 * 2 * 16 * 16 + 2 * 16 * 10


@pytest.mark.parametrize(
    "cls, fragment",
    [
        ("Missing", "has no class 'Missing'"),
        ("NoWidth", "wrong signature.*takes no width"),
        ("TwoInputs", "wrong signature.*forward"),
        ("Fails", r"Fails\(16.*RuntimeError: out of ideas"),
    ],
)
def test_broken_user_mixers_give_one_clear_error(user_module, cls, fragment):
    with pytest.raises(ModelError, match=fragment):
        build_model(f"{user_module}:{cls}:16", vocab_size=10)


def test_an_unknown_module_and_a_bad_option_are_named(user_module):
    with pytest.raises(ModelError, match="cannot import module 'no_such_module_xyz'"):
        build_model("no_such_module_xyz:Mixer:16", vocab_size=10)
    with pytest.raises(ModelError, match="GatedShift options are invalid.*colour"):
        build_model(f"{user_module}:GatedShift:16", vocab_size=10, mixers={f"{user_module}:GatedShift": {"colour": 1}})


def test_entry_point_registration(tmp_path, user_module, monkeypatch):
    """A package registering ``lolameme.mixers = {shifty = module:Class}`` is nameable as ``shifty``."""
    info = tmp_path / "shifty_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shifty-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[lolameme.mixers]\nshifty = {user_module}:GatedShift\n")
    assert "shifty" in mixer_names()
    torch.manual_seed(0)
    model = build_model("shifty:16*2", vocab_size=10, shifty_shift=3)  # flat option spelling works too
    assert model.layers[1].mixer.shift == 3 and get_mixer("shifty").name == "shifty"
    check_causal("shifty", width=8)


def test_configs_written_with_flat_family_options_still_load():
    """config.json files from before the registry spell family options flat; they rebuild the same model."""
    from lolameme.models import model_from_config, resolve_config

    new = resolve_config("thex-tiny-1", vocab_size=30)
    old = {key: value for key, value in new.to_dict().items() if key != "mixers"}
    old.update(n_head=4, gpt2_mlp_ratio=4, hyena_mlp_ratio=2, hyena_order=2, hyena_filter_order=64,
               hyena_pos_emb_dim=33, hyena_short_filter=3, hyena_sine_freq=14.0)
    assert model_from_config(old).config == new
    with pytest.raises(ModelError, match="ambiguous key 'mlp_ratio'"):
        resolve_config("gpt2:32", vocab_size=5, mlp_ratio=2)
