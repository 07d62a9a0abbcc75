"""ListOps generation: labels, bounds, splits, dedup, determinism, presets, CLI."""

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.data.api import generate_dataset, resolve_config
from lolameme.data.io import load_dataset
from lolameme.data.listops import analyze, load_config
from lolameme.data.listops.sampler import SamplerParams, sample_chunk
from lolameme.errors import ConfigError

from test_listops_rules import reference_tree, reference_text  # noqa: E402  (same directory)

SMALL = {"num_train_samples": 300, "num_valid_samples": 50, "num_test_samples": 50,
         "max_depth": 6, "max_args": 4, "min_length": 10, "max_length": 60, "seed": 3}


def test_sampled_annotations_agree_with_the_evaluator():
    chunk = sample_chunk(SamplerParams(seed=0, max_depth=7, max_args=5, min_length=5, max_length=120), 0, draws=4000)
    assert len(chunk.inputs) > 200
    for i, text in enumerate(chunk.inputs):
        result = analyze(text)
        assert (result.value, result.depth, result.n_ops, result.lra_length) == (
            chunk.labels[i], chunk.depth[i], chunk.n_ops[i], chunk.lra_length[i])
        assert text == " ".join(text.split())  # LRA form: single spaces, no padding


def test_lra_length_bounds_are_strict():
    params = SamplerParams(seed=1, max_depth=4, max_args=4, min_length=5, max_length=12)
    lengths = set(sample_chunk(params, 0).lra_length.tolist())
    assert lengths == set(range(6, 12))  # 5 and 12 excluded, everything between present
    wider = SamplerParams(seed=1, max_depth=4, max_args=4, min_length=4, max_length=13)
    assert {5, 12} <= set(sample_chunk(wider, 0).lra_length.tolist())  # so the bounds above did exclude


def test_distribution_matches_lra_recursive_draw():
    """Acceptance rate and mean accepted length agree with LRA's depth-first draw (same rules)."""
    max_depth, max_args, low, high, draws = 8, 5, 20, 200, 40_000
    rng = random.Random(7)
    lengths = []
    for _ in range(draws):
        tree = reference_tree(rng, 1, max_depth, max_args)
        n = len(reference_text(tree).split())
        if low < n < high:
            lengths.append(n)
    chunk = sample_chunk(SamplerParams(0, max_depth, max_args, low, high), 0, draws=draws)
    assert abs(len(chunk.inputs) / draws - len(lengths) / draws) < 0.01
    assert abs(chunk.lra_length.mean() - np.mean(lengths)) < 6


def test_splits_sizes_stats_and_no_duplicates(tmp_path):
    # a tiny tree space (depth 3, 2 arguments) forces duplicate draws
    config = {**SMALL, "max_depth": 3, "max_args": 2, "min_length": 3, "max_length": 9,
              "num_train_samples": 400, "num_valid_samples": 100, "num_test_samples": 100}
    manifest = generate_dataset("listops-small", tmp_path / "d", overrides=config)
    splits, read = load_dataset(tmp_path / "d")
    assert {name: table.num_rows for name, table in splits.items()} == {"train": 400, "val": 100, "test": 100}
    inputs = [text for table in splits.values() for text in table.column("input").to_pylist()]
    assert len(set(inputs)) == len(inputs) == 600
    assert manifest["duplicates_dropped"] > 0
    assert read["task"] == "listops" and read["config"] == {**config, "seed": SMALL["seed"]}
    for name, table in splits.items():
        labels = table.column("label").to_pylist()
        stats = read["label_stats"][name]
        assert sum(stats["histogram"].values()) == table.num_rows
        top = max(stats["histogram"].values())
        assert stats["majority_rate"] == pytest.approx(top / table.num_rows)
        assert stats["histogram"][stats["majority_class"]] == top
        assert all(label in "0123456789" and len(label) == 1 for label in labels)
        lengths = table.column("lra_length").to_pylist()
        assert read["length_stats"][name]["max"] == max(lengths)
        assert set(table.column_names) == {"input", "label", "depth", "n_ops", "lra_length"}


def test_too_few_distinct_trees_is_a_config_error(tmp_path):
    # only [OP d d] fits (length 4): 4 * 10 * 10 = 400 distinct trees
    config = {**SMALL, "max_depth": 2, "max_args": 2, "min_length": 3, "max_length": 5,
              "num_train_samples": 450, "num_valid_samples": 0, "num_test_samples": 0}
    with pytest.raises(ConfigError, match="only 400 distinct trees"):
        generate_dataset("listops-small", tmp_path / "d", overrides=config)
    assert not (tmp_path / "d" / "manifest.json").exists()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_one_and_two_workers_write_identical_files(tmp_path, fmt):
    overrides = {"num_train_samples": 1500, "num_valid_samples": 200, "num_test_samples": 200}  # several chunks
    one = generate_dataset("listops-small", tmp_path / "one", overrides=overrides, workers=1, fmt=fmt)
    two = generate_dataset("listops-small", tmp_path / "two", overrides=overrides, workers=2, fmt=fmt)
    assert one["generation"]["chunks"] > 2
    for split in ("train", "val", "test"):
        assert (tmp_path / "one" / f"{split}.{fmt}").read_bytes() == (tmp_path / "two" / f"{split}.{fmt}").read_bytes()
    assert one == two
    other = generate_dataset("listops-small", tmp_path / "other", overrides={**overrides, "seed": 1}, fmt=fmt)
    assert other["splits"]["train"]["sha256"] != one["splits"]["train"]["sha256"]


def test_presets_and_overrides():
    task, config = resolve_config("listops-1000")
    assert task == "listops"
    assert config.model_dump() == {"num_train_samples": 96000, "num_valid_samples": 2000, "num_test_samples": 2000,
                                   "max_depth": 10, "max_args": 10, "min_length": 500, "max_length": 2000, "seed": 0}
    _, small = resolve_config("listops-small", {"max_args": 3})
    assert small.max_args == 3 and small.max_length <= 500


@pytest.mark.parametrize("overrides, message", [
    ({"max_dept": 3}, "unknown key 'max_dept'"),
    ({"max_args": "ten"}, "max_args='ten'"),
    ({"min_length": 2000}, "min_length=2000 must be < max_length"),
    ({"max_args": 1}, "max_args=1"),
    ({"num_train_samples": -1}, "num_train_samples=-1"),
])
def test_bad_config_is_a_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config({}, overrides)


def test_cli_generate(tmp_path):
    result = CliRunner().invoke(app, ["generate", "--preset", "listops-small", "--out", str(tmp_path / "d"),
                                      "--set", "num_train_samples=20", "--set", "num_valid_samples=5",
                                      "--set", "num_test_samples=5"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["splits"]["train"]["rows"] == 20
    bad = CliRunner().invoke(app, ["generate", "--preset", "listops-small", "--out", str(tmp_path / "e"),
                                   "--set", "max_length=5"])
    assert bad.exit_code == 2 and "ConfigError" in bad.output
