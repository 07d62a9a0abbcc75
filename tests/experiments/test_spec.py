"""Every spec parses and validates; bad specs fail with a ConfigError that says where."""

from __future__ import annotations

import copy

import pytest
import yaml

from lolameme.errors import ConfigError
from lolameme.experiments.cells import enumerate_cells, seed_list
from lolameme.experiments.models import model_mapping, preset_for, thex_layer
from lolameme.experiments.spec import list_specs, load_spec, spec_from_dict

SPEC_NAMES = ["thex-lola", "thex-meme", "memorization", "variable-length", "operator-pretraining",
              "long-input", "mixing", "listops", "layer-scan"]


def test_every_paper_experiment_has_a_spec():
    assert sorted(p.stem for p in list_specs()) == sorted(SPEC_NAMES)


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_models_exist_at_every_scale(name):
    from lolameme.models import list_presets

    spec = load_spec(name)
    presets = {p for p, _ in list_presets()}
    for scale_name, scale in spec.scales.items():
        mapping = model_mapping(spec.models, scale.models)
        assert set(mapping.values()) <= presets, (scale_name, set(mapping.values()) - presets)
        assert enumerate_cells(spec, scale_name, seed_list(scale.seeds))


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_dataset_presets_exist_and_accept_the_overrides(name):
    from lolameme.data.api import resolve_config
    from lolameme.experiments.backend import dataset_overrides

    spec = load_spec(name)
    for scale_name, scale in spec.scales.items():
        for dataset in spec.datasets_at(scale_name):
            _, overrides = dataset_overrides(dataset, scale)
            resolve_config(dataset.preset, overrides)  # raises ConfigError on an unknown key or bad value


def test_thex_mapping_is_floor_of_proportional_depth():
    assert [thex_layer(n, 6) for n in (0, 1, 2, 3, 9, 12, 13, 14, 15, 17)] == [0, 0, 0, 1, 3, 4, 4, 4, 5, 5]
    assert [thex_layer(n, 18) for n in range(18)] == list(range(18))
    assert preset_for("thex-13", "tiny") == "thex-tiny-4"
    assert preset_for("thex-15", "tiny") == "thex-tiny-5"  # kept apart from THEX-13 at tiny depth
    assert preset_for("thex-13", "paper") == "thex-13"
    assert preset_for("gpt2", "small") == "gpt2-small"


def _raw(name: str) -> dict:
    return yaml.safe_load(load_spec.__globals__["find_spec"](name).read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.update(models=["hyena", "thex-18"]), "0..17"),
    (lambda r: r.update(models=["hyena", "transformer-xl"]), "not a paper model name"),
    (lambda r: r.update(models=["hyena", "mamba:64,attn:64"]), "unknown block kind .attn."),
    (lambda r: r["table"]["columns"][0].update(dataset="nope"), "unknown dataset 'nope'"),
    (lambda r: r["claims"][0].update(target="No Such Column"), "'target' must be"),
    (lambda r: r.update(scales={"huge": {}}), "unknown scale"),
    (lambda r: r.update(scales={"tiny": {"train": {"learning_rate": 1}}}), "learning_rate"),
    (lambda r: r.update(colour="red"), "unknown key 'colour'"),
])
def test_bad_specs_raise_config_error(mutate, message):
    raw = copy.deepcopy(_raw("thex-lola"))
    mutate(raw)
    with pytest.raises(ConfigError, match=message):
        spec_from_dict(raw, where="test.yaml")


def test_scale_overrides_merge_over_defaults():
    spec = load_spec("memorization")
    tiny = spec.scale("tiny")
    assert tiny.train["steps"] == 180 and tiny.train["time_budget"] == 4.0  # the spec's own
    assert tiny.train["val_every"] == 100 and tiny.recipe == "tiny"  # the package defaults, kept
    assert [d.id for d in spec.datasets_at("tiny")] == ["g100", "g500", "g1000"]
    assert len(spec.datasets_at("paper")) == 10


def test_unknown_spec_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="thex-lola"):
        load_spec("no-such-experiment")


def test_cell_training_keys_are_recipe_then_scale(tmp_path):
    from lolameme.experiments.backend import make_job
    from lolameme.experiments.cells import Cell
    from lolameme.train.recipes import load_recipe

    spec = load_spec("listops")
    job = make_job(spec, "tiny", Cell("listops", "hyena-tiny", 2), tmp_path / "d", tmp_path / "r", threads=1)
    recipe = load_recipe("tiny")
    assert job.train["lr"] == recipe["lr"] and job.train["model_overrides"] == recipe["model_overrides"]
    assert job.train["steps"] == 400 and job.train["stages"] == []  # the spec's tiny scale wins
    assert (job.tokenizer, job.seed, job.splits) == ("listops", 2, ("test",))
    lola = make_job(load_spec("thex-lola"), "tiny", Cell("base", "gpt2-tiny", 0), tmp_path / "d", tmp_path / "r",
                    threads=1)
    assert lola.tokenizer == "char" and [s.get("task") for s in lola.train["stages"]] == \
        [{"statement_count": 1}, {"statement_count": 2}, None]


def test_specs_ship_inside_the_package_and_are_found_from_any_directory(tmp_path, monkeypatch):
    from lolameme.experiments.spec import package_spec_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOLAMEME_SPECS", raising=False)
    assert {p.parent for p in list_specs()} == {package_spec_dir()}
    assert load_spec("thex-lola").name == "thex-lola"


def test_user_spec_dirs_come_first_from_option_and_environment(tmp_path, monkeypatch):
    from lolameme.experiments.spec import find_spec

    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir(), theirs.mkdir()
    raw = _raw("thex-lola")
    (mine / "thex-lola.yaml").write_text(yaml.safe_dump({**raw, "title": "my own"}))
    (theirs / "my-sweep.yaml").write_text(yaml.safe_dump({**raw, "name": "my-sweep"}))
    monkeypatch.setenv("LOLAMEME_SPECS", str(theirs))
    assert load_spec("thex-lola", [mine]).title == "my own"  # replaces the shipped spec of that name
    assert load_spec("my-sweep").name == "my-sweep"
    assert len(list_specs([mine])) == len(SPEC_NAMES) + 1
    with pytest.raises(ConfigError, match="--specs .*not a directory"):
        find_spec("thex-lola", [tmp_path / "nope"])
    monkeypatch.setenv("LOLAMEME_SPECS", str(tmp_path / "gone"))
    with pytest.raises(ConfigError, match=r"\$LOLAMEME_SPECS .*not a directory"):
        list_specs()


def test_a_scale_can_name_trackers_without_changing_settings_keys(tmp_path):
    from lolameme.experiments.backend import make_job, settings_key
    from lolameme.experiments.cells import Cell

    raw = _raw("listops")
    plain = spec_from_dict(copy.deepcopy(raw))
    raw["scales"] = {**raw["scales"], "micro": {**raw["scales"]["micro"], "log_to": "tensorboard,wandb"}}
    tracked = spec_from_dict(raw)
    cell = Cell("listops", "gpt2-tiny", 0)
    job = lambda spec, **kw: make_job(spec, "micro", cell, tmp_path / "d", tmp_path / "r", threads=1, **kw)
    assert job(tracked).log_to == ("tensorboard", "wandb") and job(plain).log_to == ()
    assert job(plain, log_to=("tensorboard",)).log_to == ("tensorboard",)  # --log-to wins over the scale
    assert settings_key(tracked, "micro", cell) == settings_key(plain, "micro", cell)
    raw["scales"]["micro"]["log_to"] = ["mlflow"]
    with pytest.raises(ConfigError, match="unknown tracker.*'mlflow'; accepted: tensorboard, wandb"):
        spec_from_dict(raw)
