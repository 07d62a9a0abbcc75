"""One spec at the micro scale through the real generator, trainer and evaluator, via the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.experiments.results import read_table
from lolameme.experiments.spec import find_spec


@pytest.mark.slow
def test_micro_memorization_runs_end_to_end_and_resumes(tmp_path: Path):
    # The paper's memorization spec, cut to two models so the test stays well under a minute.
    raw = yaml.safe_load(find_spec("memorization").read_text())
    raw["models"] = ["gpt2", "hyena"]
    raw["claims"] = [c for c in raw["claims"] if c["model"] == "hyena" and c.get("other") == "gpt2"]
    spec_path = tmp_path / "memorization.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    work, reports = tmp_path / "work", tmp_path / "reports"
    args = [str(spec_path), "--scale", "micro", "--work", str(work)]
    runner = CliRunner()

    result = runner.invoke(app, ["experiment", "run", *args, "--reports", str(reports)])
    assert result.exit_code == 0, result.output
    assert "4 cell(s) finished" in result.output

    table = read_table(work / "results.parquet")
    assert table.num_rows == 8  # 2 datasets x 2 models x 1 seed x 2 splits
    assert set(table.column("model").to_pylist()) == {"gpt2-tiny", "hyena-tiny"}
    assert all(0.0 <= v <= 1.0 for v in table.column("exact_match").to_pylist())
    assert all(v > 0 for v in table.column("steps").to_pylist())

    text = (reports / "micro" / "memorization.md").read_text()
    assert "| Hyena (`hyena-tiny`) |" in text and "![Figure 1](memorization-fig1.png)" in text
    assert (reports / "micro" / "memorization-fig1.png").read_bytes()[:4] == b"\x89PNG"
    assert "[memorization](micro/memorization.md)" in (reports / "README.md").read_text()

    again = runner.invoke(app, ["experiment", "run", *args, "--no-report"])
    assert again.exit_code == 0 and "0 cell(s) finished, 4 skipped" in again.output
    status = runner.invoke(app, ["experiment", "status", *args])
    assert "4 done, 0 stale, 0 running, 0 interrupted, 0 pending of 4 cells" in status.output


def test_bad_spec_is_a_clean_cli_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodels: [thex-40]\n")
    result = CliRunner().invoke(app, ["experiment", "status", str(bad)])
    assert result.exit_code == 2
    assert "ConfigError" in result.output and "thex-40" in result.output


@pytest.mark.slow
def test_cell_under_torchrun_trains_data_parallel(tmp_path: Path):
    import json

    from lolameme.experiments.runner import run_experiment
    from lolameme.experiments.spec import spec_from_dict

    raw = yaml.safe_load(find_spec("layer-scan").read_text())
    raw["models"], raw["claims"] = ["gpt2"], []
    for column in raw["table"]["columns"]:
        column["paper"] = {"gpt2": column["paper"]["gpt2"]}
    summary = run_experiment(spec_from_dict(raw), "micro", work=tmp_path, nproc=2, log=lambda _: None)
    assert summary.finished == ["g500--gpt2-tiny--s0"]
    result = json.loads((tmp_path / "cells" / "g500--gpt2-tiny--s0" / "result.json").read_text())
    assert result["compute"]["processes"] == 2 and set(result["splits"]) == {"test_with_globals", "test_without_globals"}
    start = json.loads((tmp_path / "cells" / "g500--gpt2-tiny--s0" / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert start["world_size"] == 2
