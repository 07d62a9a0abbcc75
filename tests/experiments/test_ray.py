"""The Ray backend against a real local cluster (2 CPUs), and its bad inputs.

The cluster takes ~15 s to start on the 2-core test machine, so the tests that
need it share one and are marked slow.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.errors import ExperimentError
from lolameme.experiments.ray_backend import check_address
from lolameme.experiments.results import read_table
from lolameme.experiments.runner import run_experiment
from lolameme.experiments.spec import find_spec, load_spec, spec_from_dict

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    # tasks import this directory's helpers (test_runner.fake_cell) by name, as the driver does
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *sys.path])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


def dying_cell(job):
    """fake_cell, except that the worker running the first cell dies (SIGKILL) mid-cell on its first attempt."""
    from test_runner import fake_cell

    attempts = job.run_dir.parent / "attempts.log"
    with open(attempts, "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    job.run_dir.mkdir(parents=True, exist_ok=True)
    assert not (job.run_dir / "half-written").exists(), "a retry must start from an empty run directory"
    if job.cell_id.endswith("gpt2-tiny--s0") and len(attempts.read_text().split()) == 1:
        (job.run_dir / "half-written").write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_cell(job)


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_nothing_is_counted_twice(ray_cluster, tmp_path):
    from test_runner import calls

    (tmp_path / "datasets" / "listops").mkdir(parents=True)
    (tmp_path / "datasets" / "listops" / "manifest.json").write_text(json.dumps({"task": "listops", "splits": {}}))
    summary = run_experiment(load_spec("listops"), "micro", seeds=1, work=tmp_path, backend="ray",
                             log=lambda _: None, cell_fn=dying_cell)
    assert len(summary.finished) == 6 and not summary.failed
    victim = tmp_path / "cells" / "listops--gpt2-tiny--s0"
    assert len((victim / "attempts.log").read_text().split()) == 2  # killed once, retried once
    assert sorted(calls(tmp_path)) == sorted(summary.finished)  # every cell's work finished exactly once
    table = read_table(tmp_path / "results.parquet")
    assert sorted(table.column("cell").to_pylist()) == sorted(summary.finished)
    assert not list(tmp_path.glob("cells/*/claim.json"))


@pytest.mark.slow
def test_ray_sweep_gives_the_same_results_as_one_local_job(ray_cluster, tmp_path):
    raw = yaml.safe_load(find_spec("layer-scan").read_text())
    raw["models"], raw["claims"], raw["sweep"] = ["gpt2"], [], {"lr": [0.001, 0.003]}
    for column in raw["table"]["columns"]:
        column["paper"] = {"gpt2": column["paper"]["gpt2"]}
    spec = spec_from_dict(raw)
    local = run_experiment(spec, "micro", work=tmp_path / "local", jobs=1, threads=1, log=lambda _: None)
    on_ray = run_experiment(spec, "micro", work=tmp_path / "ray", backend="ray", log=lambda _: None)
    assert sorted(local.finished) == sorted(on_ray.finished) and len(local.finished) == 2

    def results(root: Path) -> dict:
        found = {}
        for path in sorted((root / "cells").glob("*/result.json")):
            result = json.loads(path.read_text())
            found[result["cell"]] = (result["settings_key"], result["setting"], result["compute"]["steps"],
                                     {s: (v["exact_match"], v["token_loss"]) for s, v in result["splits"].items()})
        return found

    assert results(tmp_path / "local") == results(tmp_path / "ray")


def test_unreachable_address_is_one_clear_line(tmp_path):
    pytest.importorskip("ray")
    with pytest.raises(ExperimentError, match="no Ray cluster answers there"):
        check_address("127.0.0.1:1")
    result = CliRunner().invoke(app, ["experiment", "run", "listops", "--scale", "micro", "--backend", "ray",
                                      "--address", "127.0.0.1:1", "--work", str(tmp_path), "--no-report"])
    assert result.exit_code == 2 and "127.0.0.1:1: no Ray cluster answers there" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "cells").exists()


@pytest.mark.parametrize("address", ["nohost", "host:port", ":6379"])
def test_malformed_address_is_a_clear_error(address):
    with pytest.raises(ExperimentError, match="expected HOST:PORT"):
        check_address(address)


def test_missing_ray_extra_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    result = CliRunner().invoke(app, ["experiment", "run", "listops", "--scale", "micro", "--backend", "ray",
                                      "--work", str(tmp_path), "--no-report"])
    assert result.exit_code == 2
    assert "--backend ray needs the optional package 'ray': pip install 'lolameme[ray]'" in result.output


def test_address_without_ray_backend_is_an_error(tmp_path):
    result = CliRunner().invoke(app, ["experiment", "run", "listops", "--scale", "micro", "--address", "h:1",
                                      "--work", str(tmp_path), "--no-report"])
    assert result.exit_code == 2 and "add --backend ray" in result.output
