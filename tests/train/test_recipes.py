"""Recipes: the shipped files load and validate; bad recipe files fail with a ConfigError naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from lolameme.errors import ConfigError
from lolameme.train.config import make_config, resolve_config, resolve_values
from lolameme.train.recipes import (DEFAULT_RECIPES, default_recipe, get_recipe, load_recipe, model_family, parse_recipe,
                                    recipe_names)


def test_every_shipped_recipe_loads_and_makes_a_valid_config() -> None:
    names = recipe_names()
    assert {"plain", "tiny"} <= set(names)
    for name in names:
        recipe = get_recipe(name)
        assert recipe.description
        config = make_config({"data": "D", "out": "O", "steps": 1, "recipe": name})
        assert config.recipe == name
        assert config.batch_size >= 1


DEFAULT = "words-copy-first"  # the best recipe measured for tiny models (docs/training.md)


def test_tiny_models_default_to_the_best_measured_recipe() -> None:
    for model in ("gpt2-tiny", "hyena-tiny", "thex-tiny-3"):
        assert default_recipe(model) == DEFAULT
    assert get_recipe(DEFAULT).train["tokenizer"] == "words"
    assert default_recipe("gpt2") is None


def test_load_recipe_returns_a_fresh_copy() -> None:
    first = load_recipe("tiny")
    first["lr"] = 123.0
    first.setdefault("model_overrides", {})["x"] = 1
    assert load_recipe("tiny").get("lr") != 123.0
    assert "x" not in load_recipe("tiny").get("model_overrides", {})


def test_recipe_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("description: mine\ntrain: {lr: 0.01, loss: full}\n")
    assert get_recipe(path).name == "mine" and load_recipe(str(path)) == {"lr": 0.01, "loss": "full"}


@pytest.mark.parametrize("text, message", [
    ("train: {lr: 0.01}", "description"),
    ("description: x\ntrain: {lr: -1}", "lr"),
    ("description: x\ntrain: {lrr: 0.01}", "lrr"),
    ("description: x\ntrain: {data: somewhere}", "train.data is not a recipe key"),
    ("description: x\nmodel: gpt2-tiny", "unknown keys"),
    ("description: x\ntrain: {stages: [{task: {statement_count: 1}, gate: 1.5}]}", "gate"),
    ("description: x\ntrain: [1, 2]", "mapping"),
    ("[1, 2", "not valid YAML"),
])
def test_bad_recipes_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_recipe(text, name="bad")


def test_unknown_recipe_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="shipped recipes: .*tiny"):
        get_recipe("no-such-recipe")


def test_cli_applies_the_named_recipe_under_flags(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from lolameme.cli import app
    from train_helpers import write_dataset

    data = write_dataset(tmp_path / "data", 40)
    result = CliRunner().invoke(app, [
        "train", "--data", str(data), "--out", str(tmp_path / "run"), "--model", "gpt2:32*2", "--recipe", "weighted",
        "--steps", "1", "--lr", "0.005", "--set", "val_samples=0", "--set", "model.n_head=2"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert saved["recipe"] == "weighted" and saved["loss"] == "weighted" and saved["lr"] == 0.005  # flag beats recipe
    bad = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "r2"), "--recipe", "nope",
                                   "--steps", "1"])
    assert bad.exit_code == 2 and "unknown recipe 'nope'" in bad.output


def test_default_recipe_follows_model_and_task(tmp_path: Path) -> None:
    from train_helpers import write_dataset

    lolameme = write_dataset(tmp_path / "lola", 10)
    listops = write_dataset(tmp_path / "listops", 10, task="listops")
    assert resolve_values({"data": lolameme, "model": "gpt2-tiny"})["recipe"] == DEFAULT
    assert resolve_values({"data": listops, "model": "gpt2-tiny"})["recipe"] == "none"  # the curriculum is LOLAMEME's
    assert resolve_values({"data": lolameme, "model": "gpt2-tiny"}, recipe="none")["recipe"] == "none"
    assert resolve_values({"data": lolameme, "model": "gpt2-small"})["recipe"] == "none"
    mine = resolve_values({"data": lolameme, "model": "gpt2-tiny", "lr": 0.5, "model_overrides": {"dropout": 0.1}},
                          recipe="tiny")
    assert mine["lr"] == 0.5 and mine["model_overrides"]["dropout"] == 0.1  # deep merge: both model options kept
    assert mine["model_overrides"]["pos_encoding"] == load_recipe("tiny")["model_overrides"]["pos_encoding"]


def test_the_api_and_the_cli_resolve_the_same_config(tmp_path: Path) -> None:
    """``train(make_config({...}))`` gets the model's default recipe exactly as ``lolameme train`` does."""
    from train_helpers import write_dataset

    data = write_dataset(tmp_path / "lola", 10)
    api = make_config({"data": str(data), "out": str(tmp_path / "run"), "model": "gpt2-tiny", "steps": 5})
    cli = resolve_config({"data": str(data), "out": str(tmp_path / "run"), "model": "gpt2-tiny", "steps": 5})
    assert api == cli and api.recipe == DEFAULT and api.tokenizer == "words" and len(api.stages) > 1
    again = make_config(api.to_json())  # a resolved config resolves to itself
    assert again == api


def test_layers_merge_in_one_documented_order(tmp_path: Path) -> None:
    file = tmp_path / "cfg.yaml"
    file.write_text("lr: 0.02\nbatch_size: 16\nmodel_overrides: {dropout: 0.2}\n")
    values = resolve_values({"batch_size": 8, "model": "gpt2:32*2"}, recipe="weighted",
                            scale={"lr": 0.01, "warmup_steps": 7, "model_overrides": {"n_head": 2}},
                            file=file, sets=["model.dropout=0.3", "seed=4"])
    assert values["loss"] == "weighted"  # recipe
    assert values["warmup_steps"] == 7  # scale over recipe
    assert values["lr"] == 0.02  # file over scale
    assert values["batch_size"] == 8  # values over file
    assert values["model_overrides"] == {"n_head": 2, "dropout": 0.3}  # --set over all, mappings merged
    assert values["seed"] == 4 and values["recipe"] == "weighted"


def test_recipes_extend_and_override_by_family(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("description: base\ntasks: [lolameme]\ntrain: {lr: 0.01, loss: full, model_overrides: {dropout: 0.1}}\n"
                    "family_overrides: {hyena: {lr: 0.001}}\n")
    child = tmp_path / "child.yaml"
    child.write_text("description: child\nextends: base.yaml\ntrain: {model_overrides: {pos_encoding: rotary}}\n"
                     "family_overrides: {gpt2: {warmup_steps: 3}}\n")
    recipe = get_recipe(child)
    assert recipe.tasks == ("lolameme",)
    assert recipe.train == {"lr": 0.01, "loss": "full", "model_overrides": {"dropout": 0.1, "pos_encoding": "rotary"}}
    assert load_recipe(child, "hyena")["lr"] == 0.001 and "warmup_steps" not in load_recipe(child, "hyena")
    assert load_recipe(child, "gpt2")["warmup_steps"] == 3 and load_recipe(child, "gpt2")["lr"] == 0.01
    hyena = resolve_values({"model": "hyena:32*2"}, recipe=str(child))
    assert hyena["lr"] == 0.001 and resolve_values({"model": "hyena:32*2", "lr": 0.5}, recipe=str(child))["lr"] == 0.5
    assert model_family("thex-tiny-3") == "thex" and model_family("gpt2:32*2") == "gpt2"
    loop = tmp_path / "loop.yaml"
    loop.write_text("description: loop\nextends: loop.yaml\n")
    with pytest.raises(ConfigError, match="circle"):
        get_recipe(loop)
    with pytest.raises(ConfigError, match="extends unknown recipe"):
        parse_recipe("description: x\nextends: nowhere", name="x")
    with pytest.raises(ConfigError, match="family_overrides.hyena.model is not a recipe key"):
        parse_recipe("description: x\nfamily_overrides: {hyena: {model: hyena-tiny}}", name="x")


def test_every_tiny_preset_has_an_explicit_default() -> None:
    from lolameme.models import list_presets

    tiny = [name for name, _ in list_presets() if "-tiny" in name]
    assert tiny and all(DEFAULT_RECIPES.get(name) == DEFAULT for name in tiny)
    assert all(name in recipe_names() for name in DEFAULT_RECIPES.values())


def test_the_benchmark_recipes_load_by_path() -> None:
    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "recipes"
    paths = sorted(folder.glob("*.yaml"))
    assert {p.stem for p in paths} == {"copy-first", "copy-first-learned", "values-first", "words-answer",
                                       "words-copy-ladder"}
    assert not {p.stem for p in paths} & set(recipe_names())  # they live with the benchmark only
    for path in paths:
        config = make_config({"data": "D", "out": "O", "steps": 1, "recipe": str(path)})
        assert config.recipe == str(path) and config.stages
    assert make_config({"data": "D", "out": "O", "steps": 1,
                        "recipe": str(folder / "copy-first.yaml")}).model_overrides == {"pos_encoding": "rotary"}
