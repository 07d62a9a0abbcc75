"""Generator output: determinism across workers, atomic files, formats, loaders, CLI, Faker."""

import json
import sys
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.data.api import generate_dataset, resolve_config
from lolameme.data.generator import chunks as chunks_module
from lolameme.data.generator import load_dataset
from lolameme.data.generator.hashing import SeenHashes, classify, text_hashes
from lolameme.data.generator.names import build_vocabulary
from lolameme.errors import ConfigError, DatasetError

SMALL = {"dataset_size": 20000, "test_dataset_size": 1000, "global_var_count": 50,
         "global_variables_num_appearance": 10}


def _files(directory):
    """The dataset's files: not the hidden output lock and caches, nor the card (it names its directory)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if not p.name.startswith(".") and p.name != "README.md"}


def test_one_and_two_workers_give_byte_identical_files(tmp_path):
    # 20k train rows span three chunks, so two workers really interleave
    one = generate_dataset("base", tmp_path / "w1", overrides=SMALL, workers=1)
    two = generate_dataset("base", tmp_path / "w2", overrides=SMALL, workers=2)
    assert _files(tmp_path / "w1") == _files(tmp_path / "w2")
    assert one == two
    other_seed = generate_dataset("base", tmp_path / "s", overrides={**SMALL, "seed": 1})
    assert other_seed["splits"]["train"]["sha256"] != one["splits"]["train"]["sha256"]


def test_mixing_is_deterministic_across_workers_too(tmp_path):
    small = {"dataset_size": 9000, "test_dataset_size": 300, "global_variables_num_appearance": 1}
    generate_dataset("mixing", tmp_path / "w1", overrides=small, workers=1)
    generate_dataset("mixing", tmp_path / "w2", overrides=small, workers=2)
    assert _files(tmp_path / "w1") == _files(tmp_path / "w2")


def test_interrupted_run_leaves_no_complete_looking_dataset(tmp_path, monkeypatch):
    real = chunks_module.make_chunk

    def failing(context, plan, k):
        if plan.name == "test_with_globals":
            raise KeyboardInterrupt  # as if Ctrl-C arrived halfway
        return real(context, plan, k)

    monkeypatch.setattr("lolameme.data.generator.workers.make_chunk", failing)
    out = tmp_path / "d"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset("base", out, overrides=SMALL)
    names = {p.name for p in out.iterdir()}
    assert "manifest.json" not in names
    assert not any(name.endswith((".parquet", ".tmp")) for name in names), names
    with pytest.raises(DatasetError, match="manifest.json is missing"):
        load_dataset(out)


def test_existing_dataset_needs_overwrite(tmp_path):
    out = tmp_path / "d"
    first = generate_dataset("base", out, overrides=SMALL)
    with pytest.raises(DatasetError, match="overwrite"):
        generate_dataset("base", out, overrides=SMALL)
    again = generate_dataset("base", out, overrides=SMALL, overwrite=True)
    assert again["splits"] == first["splits"]


def test_jsonl_holds_the_same_records_as_parquet(tmp_path):
    generate_dataset("base", tmp_path / "p", overrides=SMALL)
    generate_dataset("base", tmp_path / "j", overrides=SMALL, fmt="jsonl")
    parquet, _ = load_dataset(tmp_path / "p")
    jsonl, manifest = load_dataset(tmp_path / "j")
    assert manifest["splits"]["train"]["file"] == "train.jsonl"
    for name in parquet:
        assert parquet[name].to_pylist() == jsonl[name].to_pylist()


def test_python_api_returns_records_and_manifest_and_huggingface_datasets_reads_them(tmp_path):
    manifest = generate_dataset("base", tmp_path / "d", overrides=SMALL)
    splits, read = load_dataset(tmp_path / "d")
    assert read == manifest
    record = splits["test_with_globals"].slice(0, 1).to_pylist()[0]
    assert set(record) == {"input", "label", "language", "n_statements", "max_depth", "n_global_reads",
                           "uses_globals", "n_latent", "n_relevant", "n_noise", "hops", "answer_len"}
    globals_table = json.loads((tmp_path / "d" / "globals.json").read_text())
    assert len(globals_table) == 50 and all(isinstance(v, int) for v in globals_table.values())

    datasets = pytest.importorskip("datasets")
    files = {name: str(tmp_path / "d" / entry["file"]) for name, entry in manifest["splits"].items()}
    hf = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    assert hf["train"].num_rows == 20000
    assert hf["test_with_globals"][0]["input"] == record["input"]


def test_cli_generate_and_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["generate", "--preset", "base", "--out", str(out), "--set", "dataset_size=3000",
                                 "--set", "test_dataset_size=200", "--set", "global_variables_num_appearance=1",
                                 "--workers", "2", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert "test_without_globals" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"]["train"]["rows"] == 3000
    assert len((out / "test_with_globals.jsonl").read_text().splitlines()) == 200

    bad = runner.invoke(app, ["generate", "--preset", "base", "--out", str(tmp_path / "bad"),
                              "--set", "expression_min_depth=5"])
    assert bad.exit_code == 2
    assert "ConfigError" in bad.output and "expression_min_depth" in bad.output
    assert not (tmp_path / "bad").exists()

    listed = runner.invoke(app, ["presets"])
    for name in ("base", "memorization", "variable-length", "long-input", "operator-pretraining", "mixing"):
        assert name in listed.output


def test_faker_missing_is_a_clear_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "faker", None)  # import faker -> ImportError
    monkeypatch.setitem(sys.modules, "faker.providers.lorem.en_US", None)
    with pytest.raises(ConfigError, match=r"pip install 'lolameme\[faker\]'"):
        generate_dataset("base", tmp_path / "f", overrides={"use_faker": True})
    assert not (tmp_path / "f" / "manifest.json").exists()


def test_faker_names_come_from_its_word_list(monkeypatch):
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "zeta", "theta", "kappa", "lambda",
             "xenon", "yacht", "zebra", "apple", "berry", "cherry", "melon", "lemon", "grape", "peach"]
    provider = types.SimpleNamespace(word_list=words)
    fake = types.ModuleType("faker.providers.lorem.en_US")
    fake.Provider = provider
    for name in ("faker", "faker.providers", "faker.providers.lorem"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "faker.providers.lorem.en_US", fake)
    config = resolve_config("base", {"use_faker": True, "global_var_count": 40})[1]
    vocab = build_vocabulary(config, np.random.default_rng(0))
    assert len(set(vocab.names)) == 50
    for name in vocab.names:
        assert 3 <= len(name) <= 10 and name[0].islower()
        rest = name.lower()
        while rest:  # the name is a concatenation of words from the list
            match = next((w for w in words if rest.startswith(w)), None)
            assert match, name
            rest = rest[len(match):]


def test_duplicate_classification_and_seen_set():
    import pyarrow as pa

    texts = pa.array(["a = 1;print(a)", "a = 2;print(a)", "a = 1;print(a)"])
    digests = text_hashes(texts)
    assert digests.dtype == np.uint64 and digests[0] == digests[2] != digests[1]
    assert (text_hashes(texts.slice(1)) == digests[1:]).all()
    hashes = np.array([5, 7, 5, 9, 11, 9], dtype=np.uint64)
    here, before = SeenHashes(), SeenHashes()
    before.add(np.array([11], dtype=np.uint64))
    here.add(np.array([9], dtype=np.uint64))
    new, across = classify(hashes, here, before)
    assert new.tolist() == [True, True, False, False, False, False]
    assert across.tolist() == [False, False, False, False, True, False]
    seen = SeenHashes()
    seen.add(hashes[:2])
    for batch in np.array_split(np.arange(1000, dtype=np.uint64), 7):
        seen.add(batch)
    assert len(seen) == 1002
    assert seen.contains(np.array([7, 999, 1000], dtype=np.uint64)).tolist() == [True, True, False]


def test_generation_checks_itself_against_the_interpreter(tmp_path, monkeypatch):
    from lolameme.data.generator.verify import LabelMismatch
    from lolameme.lang import columnar

    small = {"dataset_size": 300, "test_dataset_size": 50, "global_variables_num_appearance": 1}
    manifest = generate_dataset("base", tmp_path / "all", overrides={**small, "verify": "all"})
    checked = manifest["labels"]["records_checked"]
    assert all(checked[name] >= entry["rows"] for name, entry in manifest["splits"].items())

    real = columnar._apply

    def off_by_one(*args):  # a bug in the columnar path: every operator result one too big
        result, *rest = real(*args)
        return (result + 1, *rest)

    monkeypatch.setattr(columnar, "_apply", off_by_one)
    with pytest.raises(LabelMismatch, match="disagrees with lolameme.lang"):
        generate_dataset("base", tmp_path / "bug", overrides=small)  # verify: sample is enough
    assert not (tmp_path / "bug" / "manifest.json").exists()


def test_empty_test_splits(tmp_path):
    manifest = generate_dataset("base", tmp_path / "d", overrides={"dataset_size": 100, "test_dataset_size": 0,
                                                                    "global_variables_num_appearance": 0})
    assert manifest["splits"]["test_with_globals"]["rows"] == 0
    tables, _ = load_dataset(tmp_path / "d")
    assert tables["test_without_globals"].num_rows == 0 and tables["train"].num_rows == 100
