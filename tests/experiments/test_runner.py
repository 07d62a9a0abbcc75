"""Cells, shards and resuming, with a cheap stand-in for train + evaluate.

The stand-in (``fake_cell``) writes the run directory and returns a result
record shaped like the real one, with a score derived from the cell, so the
bookkeeping (skip finished cells, redo interrupted ones, shard exactly once)
is tested without training. The real train + evaluate path is tested in
test_end_to_end.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lolameme.errors import ConfigError, ExperimentError
from lolameme.experiments.backend import CellJob
from lolameme.experiments.cells import Cell, enumerate_cells, parse_shard, seed_list, select_shard
from lolameme.experiments.runner import run_experiment
from lolameme.experiments.spec import load_spec
from lolameme.experiments.store import CLAIM_FILE, WorkDir
from lolameme.experiments.results import read_table

SPEC = "listops"  # its dataset preset (listops-1000) is the data package's


def fake_cell(job: CellJob) -> dict:
    """Stand-in for train + evaluate: a run directory, a call log, a score from the seed."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    with open(job.run_dir.parent.parent.parent / "calls.log", "a", encoding="utf-8") as log:
        log.write(job.cell_id + "\n")
    if os.environ.get("LOLAMEME_TEST_FAIL") == job.cell_id:
        raise ConfigError(f"planned failure of {job.cell_id}")
    score = 0.1 * (job.seed + 1)
    return {"spec": job.spec, "scale": job.scale, "cell": job.cell_id, "dataset": job.dataset, "x": job.x,
            "model": job.model, "seed": job.seed, "package_version": "test",
            "splits": {s: {"n": 10, "exact_match": score, "majority_baseline": 0.05, "majority_answer": "0",
                           "token_accuracy": score, "token_loss": 1.0, "slices": {}} for s in job.splits},
            "compute": {"train_seconds": 1.0, "eval_seconds": 0.5, "steps": 3, "tokens": 100, "parameters": 10,
                        "threads": job.threads, "device": "cpu"}, "finished": 0.0}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A work dir whose dataset counts as generated (manifest present), so no data is made."""
    spec = load_spec(SPEC)
    for dataset in spec.datasets:
        d = tmp_path / "datasets" / dataset.id
        d.mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps({"task": "listops", "splits": {}}))
    return tmp_path


def calls(work: Path) -> list[str]:
    log = work / "calls.log"
    return log.read_text().split() if log.exists() else []


def run(work: Path, **kw):
    kw.setdefault("seeds", 2)
    return run_experiment(load_spec(SPEC), "micro", work=work, log=lambda _: None, cell_fn=fake_cell, **kw)


def all_cells(seeds: int = 2) -> list[Cell]:
    return enumerate_cells(load_spec(SPEC), "micro", seed_list(seeds))


def test_finished_cells_are_skipped(work):
    first = run(work)
    assert len(first.finished) == len(all_cells()) == 12  # 6 tiny models x 2 seeds
    assert sorted(calls(work)) == sorted(c.id for c in all_cells())
    second = run(work)
    assert second.finished == [] and second.skipped == 12
    assert len(calls(work)) == 12  # nothing ran again
    table = read_table(work / "results.parquet")
    assert table.num_rows == 12 and set(table.column("split").to_pylist()) == {"test"}


def test_more_seeds_extend_a_finished_run(work):
    run(work, seeds=1)
    again = run(work, seeds=2)
    assert len(again.finished) == 6 and again.skipped == 6


def test_interrupted_cell_is_redone_and_its_leftovers_removed(work):
    run(work)
    wd = WorkDir(work)
    victim, crashed = all_cells()[3], all_cells()[7]
    # victim: killed mid-training (run dir with a stray file, no result, no claim)
    wd.result_path(victim).unlink()
    (wd.run_dir(victim) / "half-written").write_text("x")
    # crashed: a claim from a process that no longer exists
    wd.result_path(crashed).unlink()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claim = {"pid": int(dead.stdout), "host": os.uname().nodename, "started": 0}
    (wd.cell_dir(crashed) / CLAIM_FILE).write_text(json.dumps(claim))
    assert wd.state(victim) == "interrupted" and wd.state(crashed) == "interrupted"
    redo = run(work)
    assert sorted(redo.finished) == sorted([victim.id, crashed.id])
    assert not (wd.run_dir(victim) / "half-written").exists()
    assert wd.state(victim) == "done" and not (wd.cell_dir(crashed) / CLAIM_FILE).exists()


def test_cell_held_by_a_live_process_is_not_started(work):
    wd = WorkDir(work)
    held = all_cells()[0]
    wd.cell_dir(held).mkdir(parents=True)
    claim = {"pid": os.getpid(), "host": os.uname().nodename, "started": 0}  # this very process: alive
    (wd.cell_dir(held) / CLAIM_FILE).write_text(json.dumps(claim))
    summary = run(work)
    assert held.id not in calls(work) and summary.skipped == 1
    assert wd.state(held) == "running"


def test_failed_cell_is_released_and_retried(work, monkeypatch):
    target = all_cells()[2]
    monkeypatch.setenv("LOLAMEME_TEST_FAIL", target.id)
    with pytest.raises(ExperimentError, match="planned failure"):
        run(work)
    assert WorkDir(work).state(target) == "interrupted"  # its run dir is there, its claim released
    monkeypatch.delenv("LOLAMEME_TEST_FAIL")
    assert run(work).finished == [target.id]


def test_shards_cover_every_cell_once(work):
    for i in (1, 2, 3):
        run(work, shard=(i, 3))
    assert sorted(calls(work)) == sorted(c.id for c in all_cells())


def test_parallel_jobs_run_every_cell(work):
    summary = run(work, jobs=2)
    assert sorted(summary.finished) == sorted(c.id for c in all_cells())
    assert {json.loads(p.read_text())["compute"]["threads"] for p in work.glob("cells/*/result.json")} == \
        {max(1, len(os.sched_getaffinity(0)) // 2)}


@settings(max_examples=60, deadline=None)
@given(n_cells=st.integers(0, 40), n_shards=st.integers(1, 9))
def test_select_shard_partitions(n_cells, n_shards):
    cells = [Cell("d", f"m{i}", 0) for i in range(n_cells)]
    shards = [select_shard(cells, (i, n_shards)) for i in range(1, n_shards + 1)]
    flat = [c for s in shards for c in s]
    assert sorted(flat) == sorted(cells) and len(flat) == len(set(flat))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard_is_a_config_error(text):
    with pytest.raises(ConfigError, match="i/n"):
        parse_shard(text)


def _with_micro_train(**train):
    spec = load_spec(SPEC)
    micro = spec.scales["micro"]
    return spec.model_copy(update={"scales": {**spec.scales, "micro": micro.model_copy(
        update={"train": {**micro.train, **train}})}})


def test_cells_run_under_other_settings_are_stale_and_redone(work):
    run(work)
    edited = _with_micro_train(steps=3)
    cells = all_cells()
    from lolameme.experiments.runner import keyed_work_dir

    wd = keyed_work_dir(edited, "micro", work, cells)
    assert {wd.state(c) for c in cells} == {"stale"}
    assert wd.results() == []  # a report never shows numbers made under other settings
    again = run_experiment(edited, "micro", seeds=2, work=work, log=lambda _: None, cell_fn=fake_cell)
    assert len(again.finished) == 12 and len(calls(work)) == 24
    assert {wd.state(c) for c in cells} == {"done"} and len(wd.results()) == 12
    # unchanged settings: nothing to redo; the original spec's cells are now the stale ones
    assert run_experiment(edited, "micro", seeds=2, work=work, log=lambda _: None, cell_fn=fake_cell).finished == []
    assert {keyed_work_dir(load_spec(SPEC), "micro", work, cells).state(c) for c in cells} == {"stale"}


def test_a_dataset_made_from_other_settings_is_regenerated(tmp_path):
    from lolameme.data.io import read_manifest
    from lolameme.experiments.backend import prepare_dataset

    spec = load_spec("memorization")
    scale = spec.scale("micro")
    dataset = spec.datasets[0]
    out = tmp_path / "datasets" / dataset.id
    assert prepare_dataset(dataset, scale, out) is True
    assert prepare_dataset(dataset, scale, out) is False  # same settings: kept
    changed = dataset.model_copy(update={"overrides": {**dataset.overrides, "global_var_count": 150}})
    assert prepare_dataset(changed, scale, out) is True
    assert read_manifest(out)["config"]["global_var_count"] == 150


def test_results_are_found_by_settings_key_not_by_path(work: Path, tmp_path: Path):
    """A record committed from one machine's run counts as done in another work dir, and a changed spec does not."""
    spec = load_spec(SPEC)
    records = tmp_path / "reports" / "micro" / "records" / SPEC
    first = run_experiment(spec, "micro", seeds=2, work=work, log=lambda _: None, cell_fn=fake_cell, records=records)
    n = first.cells
    assert len(first.finished) == n and len(list(records.glob("*.json"))) == n

    elsewhere = tmp_path / "other-machine"  # a fresh work dir: nothing but the committed records
    for dataset in spec.datasets:
        (elsewhere / "datasets" / dataset.id).mkdir(parents=True)
        (elsewhere / "datasets" / dataset.id / "manifest.json").write_text(json.dumps({"task": "listops", "splits": {}}))
    again = run_experiment(spec, "micro", seeds=2, work=elsewhere, log=lambda _: None, cell_fn=fake_cell, records=records)
    assert again.finished == [] and again.skipped == n
    original = {r["cell"]: r["splits"] for r in WorkDir(work).results()}
    adopted = {r["cell"]: r["splits"] for r in WorkDir(elsewhere).results()}
    assert adopted == original

    changed = spec.model_copy(update={"scales": {**spec.scales, "micro": spec.scales["micro"].model_copy(
        update={"train": {**spec.scales["micro"].train, "steps": 3}})}})
    redo = run_experiment(changed, "micro", seeds=2, work=tmp_path / "third", log=lambda _: None, cell_fn=fake_cell,
                          records=records)
    assert len(redo.finished) == n  # other settings, other keys: the records do not apply
