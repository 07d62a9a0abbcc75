"""Runs under faults: Ctrl-C mid-step, damaged checkpoints, runs stopped before their first checkpoint, kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from lolameme.atomic import OutputLockedError
from lolameme.cli import app
from lolameme.errors import CheckpointError
from lolameme.data.io import sha256_file
from lolameme.train.checkpoint import checkpoint_steps, load_run
from lolameme.train.config import make_config
from lolameme.train.trainer import Trainer, resolve_resume_config, train

MICRO = {"model": "gpt2:32*2", "model_overrides": {"n_head": 2, "dropout": 0.1}, "batch_size": 8, "lr": 3e-3,
         "warmup_steps": 2, "val_samples": 16, "val_every": 3, "log_every": 2, "checkpoint_every": 100,
         "progress": False, "steps": 6}


def config(data: Path, out: Path, **overrides):
    return make_config({"data": str(data), "out": str(out), **MICRO, **overrides})


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    step = checkpoint_steps(run)[-1]
    return load_file(str(run / "checkpoints" / f"step-{step}" / "model.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def interrupt_after_update(trainer: Trainer, at_step: int, interrupt) -> None:
    """Make update number ``at_step`` call ``interrupt`` after ``optimizer.step()``, before the counter moves."""
    real_step = trainer.optimizer.step
    calls = []

    def step(*args, **kwargs):
        out = real_step(*args, **kwargs)
        calls.append(1)
        if len(calls) == at_step:
            interrupt()
        return out

    trainer.optimizer.step = step


def test_ctrl_c_between_an_update_and_its_counter_checkpoints_that_update(dataset, tmp_path) -> None:
    """SIGINT lands after optimizer.step() of update 3: the step finishes, step-3 holds 3 updates, resume is exact."""
    whole = train(config(dataset, tmp_path / "whole"))
    trainer = Trainer(config(dataset, tmp_path / "part"))
    interrupt_after_update(trainer, 3, lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    trainer.run_dir.close()
    assert checkpoint_steps(tmp_path / "part") == [3]
    meta = json.loads((tmp_path / "part" / "checkpoints" / "step-3" / "meta.json").read_text())
    assert meta["step"] == meta["counters"]["step"] == 3 and meta["position"]["batch"] == 3
    resumed = train(resolve_resume_config(tmp_path / "part", {}), resume=True)
    assert resumed.step == whole.step == 6
    assert_same_weights(final_weights(tmp_path / "whole"), final_weights(tmp_path / "part"))


def test_an_interrupt_raised_mid_step_writes_no_checkpoint(dataset, tmp_path, capsys) -> None:
    """A KeyboardInterrupt raised between the update and the counter cannot be named by a step: nothing is written."""
    run = tmp_path / "run"
    trainer = Trainer(config(dataset, run, checkpoint_every=2))

    def interrupt():
        raise KeyboardInterrupt

    interrupt_after_update(trainer, 3, interrupt)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    trainer.run_dir.close()
    assert checkpoint_steps(run) == [2]  # the periodic one; no checkpoint claims the third update
    assert "no checkpoint written" in capsys.readouterr().out
    whole = train(config(dataset, tmp_path / "whole", checkpoint_every=2))
    resumed = train(resolve_resume_config(run, {}), resume=True)
    assert resumed.step == whole.step
    assert_same_weights(final_weights(tmp_path / "whole"), final_weights(run))


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # tensor data, past the header
    path.write_bytes(bytes(data))


def test_damaged_or_mixed_checkpoints_are_refused(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    train(config(dataset, run, checkpoint_every=2, keep_checkpoints=3))
    step2, step4, step6 = (run / "checkpoints" / f"step-{k}" for k in (2, 4, 6))
    original = (step4 / "model.safetensors").read_bytes()
    flip_last_byte(step4 / "model.safetensors")  # one bit of one weight
    with pytest.raises(CheckpointError, match="model.safetensors does not match the sha256"):
        load_run(run, 4)
    (step4 / "model.safetensors").write_bytes(original)
    state = (step6 / "state.pt").read_bytes()
    (step6 / "state.pt").write_bytes(state[:100] + bytes(len(state) - 200) + state[-100:])  # zeroed bytes
    with pytest.raises(CheckpointError, match="state.pt does not match the sha256"):
        train(resolve_resume_config(run, {"steps": 8}), resume=True)
    # weights of another step, with a digest that matches them: the step they record gives them away
    (step4 / "model.safetensors").write_bytes((step2 / "model.safetensors").read_bytes())
    meta = json.loads((step4 / "meta.json").read_text())
    meta["files"]["model.safetensors"] = sha256_file(step4 / "model.safetensors")
    (step4 / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="weights of step 2, not of step 4"):
        load_run(run, 4)
    assert load_run(run, 2).step == 2  # the untouched checkpoint still loads


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_state_file_that_would_run_code_is_refused_in_one_line(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    train(config(dataset, run, steps=2, val_samples=0))
    directory = run / "checkpoints" / "step-2"
    torch.save({"optimizer": {}, "x": _Evil()}, directory / "state.pt")
    meta = json.loads((directory / "meta.json").read_text())
    meta["files"]["state.pt"] = sha256_file(directory / "state.pt")  # a crafted checkpoint, digests and all
    (directory / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as caught:
        train(resolve_resume_config(run, {"steps": 3}), resume=True)
    message = str(caught.value)
    assert "refused" in message and "\n" not in message and "weights_only" not in message
    result = CliRunner().invoke(app, ["train", "--out", str(run), "--resume", "--steps", "3"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "weights_only" not in result.output


def test_a_run_stopped_before_its_first_checkpoint_starts_again(dataset, tmp_path, capsys) -> None:
    whole = tmp_path / "whole"
    train(config(dataset, whole))
    for resume in (False, True):
        run = tmp_path / f"run-{resume}"
        train(config(dataset, run))
        for item in (run / "checkpoints").iterdir():  # as if killed before the first checkpoint
            for file in item.iterdir():
                file.unlink()
            item.rmdir()
        (run / "metrics.jsonl").write_text('{"event": "start", "step": 0}\n')
        cfg = resolve_resume_config(run, {}) if resume else config(dataset, run)
        train(cfg, resume=resume)
        said = capsys.readouterr().out
        assert "stopped before its first checkpoint" in said
        assert ("starting it again from scratch" if resume else "replacing it") in said
        assert_same_weights(final_weights(whole), final_weights(run))
        starts = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["event"] for r in starts].count("start") == 1  # the stale log was replaced, not appended to


def test_a_second_trainer_on_one_run_directory_is_refused(dataset, tmp_path) -> None:
    first = Trainer(config(dataset, tmp_path / "run"))
    try:
        with pytest.raises(OutputLockedError):
            train(config(dataset, tmp_path / "run"))
    finally:
        first.run_dir.close()
    assert train(config(dataset, tmp_path / "run", steps=1)).step == 1


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_ends_bit_identical(dataset, tmp_path) -> None:
    """>= 20 SIGKILLs of `lolameme train` at random moments; every restart with --resume is accepted,
    and the run ends with exactly the weights of an uninterrupted one."""
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps({**MICRO, "data": str(dataset), "steps": 12, "checkpoint_every": 1,
                                    "keep_checkpoints": 2, "seed": 3}))
    command = [sys.executable, "-m", "lolameme.cli", "train", "--config", str(cfg_file)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    began = time.monotonic()
    subprocess.run([*command, "--out", str(tmp_path / "whole")], env=env, check=True, capture_output=True)
    full = time.monotonic() - began
    rng = random.Random(0)
    run, kills = tmp_path / "run", 0
    while kills < 20:
        process = subprocess.Popen([*command, "--out", str(run), "--resume"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        began = time.monotonic()
        try:
            _, err = process.communicate(timeout=rng.uniform(0.2, 0.95) * full)
            # finished on its own: it must have succeeded (a signal from outside kills it like ours)
            assert process.returncode == 0 or process.returncode < 0, err.decode()[-2000:]
            full = time.monotonic() - began  # what is left takes this long: kill within it next time
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            kills += 1
    done = subprocess.run([*command, "--out", str(run), "--resume"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert checkpoint_steps(run)[-1] == 12
    assert_same_weights(final_weights(tmp_path / "whole"), final_weights(run))
