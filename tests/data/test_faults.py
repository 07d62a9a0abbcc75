"""Datasets under races and edits: one writer per directory, verification on every read, caches.

Each test here failed before the output lock, the verification on read and the cache placement
existed; together they back the "Guarantees" section of the README.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lolameme.atomic import OutputLockedError, exclusive_lock
from lolameme.data import io
from lolameme.data.api import generate_dataset
from lolameme.data.io import DatasetWriter, load_split, verified_split, verify_dataset
from lolameme.errors import DatasetError

TINY = {"dataset_size": 300, "test_dataset_size": 30, "global_var_count": 20, "global_variables_num_appearance": 1}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    generate_dataset("base", out, overrides=TINY)
    return out


def _relabel(path: Path, split_file: str) -> None:
    """Rewrite one split with every label changed, as a user editing it with pyarrow would."""
    table = pq.read_table(path / split_file)
    labels = pa.array([str(int(x) + 1) for x in table.column("label").to_pylist()])
    pq.write_table(table.set_column(table.column_names.index("label"), "label", labels), path / split_file)


# ---------------------------------------------------------------- one writer at a time


def test_a_second_writer_is_refused_at_once(tmp_path):
    out = tmp_path / "data"
    with exclusive_lock(out):
        started = time.monotonic()
        with pytest.raises(OutputLockedError, match="another process"):
            generate_dataset("base", out, overrides=TINY)
        assert time.monotonic() - started < 5
    assert not (out / "manifest.json").exists()
    generate_dataset("base", out, overrides=TINY)  # free again once the holder is gone
    verify_dataset(out)


def test_temporary_names_are_unique_per_process_and_call(tmp_path):
    with DatasetWriter(tmp_path / "d") as writer:
        first = writer.split("train")._tmp.name
        second = writer.split("test")._tmp.name
        assert str(os.getpid()) in first and first.startswith(".") and first.endswith(".tmp")
        assert first != "train.parquet.tmp" and second != "test.parquet.tmp"


def test_two_concurrent_generates_leave_one_consistent_dataset(tmp_path):
    """Seeds 1 and 2 on one --out: whatever the interleaving, the result verifies and is one seed's."""
    out = tmp_path / "data"
    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    procs = [subprocess.Popen([sys.executable, "-m", "lolameme.cli", "generate", "--out", str(out), "--overwrite",
                               f"--set=seed={seed}", *sets], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for seed in (1, 2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert any(code == 0 for code, _ in results)
    for code, err in results:
        assert code in (0, 2), err
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and "another process" in err
    manifest = verify_dataset(out)
    expected = tmp_path / f"seed{manifest['seed']}"
    generate_dataset("base", expected, overrides={**TINY, "seed": manifest["seed"]})
    for name in ("train.parquet", "globals.json"):
        assert (out / name).read_bytes() == (expected / name).read_bytes()


def test_a_rerun_cleans_up_temporary_files_of_a_killed_writer(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    leftover = out / ".train.parquet.12345.abcd.tmp"
    leftover.write_bytes(b"half a file")
    generate_dataset("base", out, overrides=TINY)
    assert not leftover.exists()


# ---------------------------------------------------------------- verification on read


def test_a_relabelled_split_is_refused_by_every_reader(dataset, tmp_path):
    from lolameme.eval.evaluate import evaluate_split
    from lolameme.tokenizers import get_tokenizer
    from lolameme.train.cache import token_cache

    _relabel(dataset, "test_with_globals.parquet")
    with pytest.raises(DatasetError, match="'test_with_globals'.*sha256"):
        load_split(dataset, "test_with_globals")
    with pytest.raises(DatasetError, match="'test_with_globals'"):
        evaluate_split(None, None, dataset, "test_with_globals", train_labels=["1"])
    with pytest.raises(DatasetError, match="'test_with_globals'"):
        token_cache(dataset, "test_with_globals", get_tokenizer("char"))
    load_split(dataset, "train")  # the other splits are still fine


def test_a_token_cache_built_before_an_edit_is_not_used_after_it(dataset):
    from lolameme.tokenizers import get_tokenizer
    from lolameme.train.cache import token_cache

    tok = get_tokenizer("char")
    assert len(token_cache(dataset, "train", tok)) == TINY["dataset_size"]
    _relabel(dataset, "train.parquet")
    with pytest.raises(DatasetError, match="'train'.*sha256"):
        token_cache(dataset, "train", tok)


def test_an_edited_row_count_is_refused(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    load_split(dataset, "train")  # verified once: the check is remembered
    manifest["splits"]["train"]["rows"] = 299
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="'train'.*299 rows"):
        verified_split(dataset, "train")


def test_an_edited_globals_file_is_refused(dataset):
    verify_dataset(dataset)
    text = (dataset / "globals.json").read_text()
    (dataset / "globals.json").write_text(text.replace(": ", ": 1", 1))
    with pytest.raises(DatasetError, match="globals.json"):
        verify_dataset(dataset)


def test_verification_is_remembered_by_file_stamp(dataset, monkeypatch):
    hashed = []
    real = io.sha256_file
    def counting(path, *args):
        if Path(path).suffix == ".parquet":  # side files are small and simply hashed
            hashed.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(io, "sha256_file", counting)
    for _ in range(3):
        verify_dataset(dataset)
    assert hashed == []  # generation recorded the stamps of the files it hashed
    os.utime(dataset / "train.parquet")  # touched: same bytes, new stamp -> hashed once more
    verify_dataset(dataset)
    verify_dataset(dataset)
    assert hashed == ["train.parquet"]


# ---------------------------------------------------------------- caches of read-only datasets


def test_a_read_only_dataset_keeps_its_caches_in_the_user_cache(dataset, tmp_path, monkeypatch):
    from lolameme.tokenizers import get_tokenizer
    from lolameme.train.cache import token_cache

    monkeypatch.setattr(io, "_can_write", lambda folder: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(io.CACHE_ENV, raising=False)
    cache = token_cache(dataset, "train", get_tokenizer("char"))
    assert cache.directory.parent == tmp_path / "xdg" / "lolameme"
    assert io.verification_record_path(dataset).is_relative_to(tmp_path / "xdg")


def test_cache_dir_setting_places_token_caches(dataset, tmp_path, monkeypatch):
    from lolameme.tokenizers import get_tokenizer
    from lolameme.train.cache import token_cache

    monkeypatch.setenv(io.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert token_cache(dataset, "train", get_tokenizer("char")).directory.parent == tmp_path / "elsewhere"
    explicit = token_cache(dataset, "train", get_tokenizer("char"), cache_dir=tmp_path / "explicit")
    assert explicit.directory.parent == tmp_path / "explicit"


def test_train_accepts_cache_dir(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from lolameme.cli import app

    monkeypatch.setenv(io.CACHE_ENV, "restored after the test")
    result = CliRunner().invoke(app, ["train", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "missing --data" in result.stderr
    assert os.environ.get(io.CACHE_ENV) == str(tmp_path / "c")


# ---------------------------------------------------------------- shared datasets of experiments


def test_concurrent_sweeps_generate_a_shared_dataset_once(tmp_path):
    from lolameme.experiments.backend import prepare_dataset
    from lolameme.experiments.spec import load_spec

    spec = load_spec("listops")
    dataset, scale = spec.datasets[0], spec.scale("micro")
    out = tmp_path / "datasets" / dataset.id
    generated: list[bool] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            generated.append(prepare_dataset(dataset, scale, out))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and sorted(generated) == [False, True]
    verify_dataset(out)


def test_a_sweep_regenerates_a_shared_dataset_that_fails_verification(tmp_path):
    from lolameme.experiments.backend import prepare_dataset
    from lolameme.experiments.spec import load_spec

    spec = load_spec("listops")
    dataset, scale = spec.datasets[0], spec.scale("micro")
    out = tmp_path / dataset.id
    assert prepare_dataset(dataset, scale, out)
    original = (out / "train.parquet").read_bytes()
    _relabel(out, "train.parquet")
    assert prepare_dataset(dataset, scale, out)
    assert (out / "train.parquet").read_bytes() == original
    assert not prepare_dataset(dataset, scale, out)
