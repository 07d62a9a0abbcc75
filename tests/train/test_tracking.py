"""Trackers mirror metrics.jsonl exactly; runs record what produced them; learning curves plot from metrics.jsonl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.train.tracking import parse_log_to, scalars

MICRO = ["--model", "gpt2:32*2", "--set", "model.n_head=2", "--batch-size", "8", "--steps", "6", "--recipe", "none",
         "--set", "val_samples=16", "--set", "val_every=3", "--set", "log_every=2", "--set", "warmup_steps=2"]


def train_cli(dataset: Path, out: Path, *extra: str):
    result = CliRunner().invoke(app, ["train", "--data", str(dataset), "--out", str(out), *MICRO, *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_tensorboard_event_files_hold_the_scalars_of_metrics_jsonl(dataset, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    records = train_cli(dataset, tmp_path / "run", "--log-to", "tensorboard")
    expected: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for tag, value in scalars(record).items():
            expected.setdefault(tag, []).append((record["step"], value))
    assert {"train/loss", "train/lr", "val/val_exact", "start/params"} <= expected.keys()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(expected)
    for tag, points in expected.items():
        logged = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in logged] == [s for s, _ in points], tag
        assert [v for _, v in logged] == pytest.approx([v for _, v in points], rel=1e-6), tag  # float32 in TB


def test_wandb_offline_needs_no_network(dataset, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    train_cli(dataset, tmp_path / "run", "--log-to", "wandb")
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0


def test_unknown_tracker_and_missing_extra_are_one_line_errors(dataset, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(dataset), "--out", str(tmp_path / "r"), *MICRO,
                                      "--log-to", "tensorboard,mlflow"])
    assert result.exit_code == 2 and "unknown tracker(s) 'mlflow'; accepted: tensorboard, wandb" in result.output
    code = ("import sys; sys.modules['wandb'] = None\n"
            "from lolameme.train.tracking import open_mirrors\n"
            "from lolameme.errors import ConfigError\n"
            "try:\n    open_mirrors(['wandb'], '.').__enter__()\n"
            "except ConfigError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "--log-to wandb needs the optional package 'wandb': pip install 'lolameme[tracking]'"
    assert parse_log_to(" wandb, tensorboard,wandb ") == ("wandb", "tensorboard")


def test_config_records_what_produced_the_run(dataset, tmp_path, monkeypatch):
    import platform

    import torch

    from lolameme import __version__
    from importlib.metadata import version

    monkeypatch.setattr(sys, "argv", ["lolameme", "train", "--out", str(tmp_path / "run")])
    train_cli(dataset, tmp_path / "run")
    provenance = json.loads((tmp_path / "run" / "config.json").read_text())["provenance"]
    assert provenance["package_version"] == __version__ == version("lolameme")
    assert provenance["torch"] == torch.__version__ and provenance["python"] == platform.python_version()
    assert provenance["device"] == "cpu" and provenance["cpu"] and "gpu" in provenance
    git = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0 and Path(__import__("lolameme").__file__).resolve().is_relative_to(
            Path(__file__).resolve().parents[2]):
        assert provenance["git"]["commit"] == git.stdout.strip()
    assert provenance["command"] == f"lolameme train --out {tmp_path / 'run'}"


def test_plot_draws_curves_of_several_runs(dataset, tmp_path):
    train_cli(dataset, tmp_path / "a" / "run")
    train_cli(dataset, tmp_path / "b" / "run", "--lr", "0.01")
    out = tmp_path / "curves.png"
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    from lolameme.train.curves import run_labels

    assert run_labels([tmp_path / "a" / "run", tmp_path / "b" / "run"]) == ["a/run", "b/run"]
    missing = CliRunner().invoke(app, ["plot", str(tmp_path), "--out", str(out)])
    assert missing.exit_code == 2 and "no metrics.jsonl there" in missing.output
