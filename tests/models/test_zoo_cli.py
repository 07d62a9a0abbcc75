"""From the command line: a user's mixer trains and evaluates; a GPT-2 run exports to transformers
and scores the same there; broken mixers give one line, not a traceback."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.data.io import DatasetWriter
from test_mixers import USER_MIXERS  # the user's mixer file: GatedShift, and Peeks (not causal)

TRAIN = ["--steps", "4", "--set", "batch_size=8", "--set", "val_samples=0", "--set", "warmup_steps=1",
         "--set", "progress=false", "--recipe", "none"]


def write_tiny_dataset(out: Path) -> Path:
    rng = random.Random(0)
    rows = [(f"a = {v} ; print ( a )", str(v)) for v in (rng.randint(1, 99) for _ in range(40))]
    with DatasetWriter(out) as writer:
        for split, part in (("train", rows), ("test", rows[:6])):
            writer.split(split).write({"input": [r[0] for r in part], "label": [r[1] for r in part],
                                       "n_statements": [1] * len(part)})
        writer.finish({"task": "lolameme", "seed": 0})
    return out


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def in_mixer_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user's mixer file in the current directory (found as `lolameme` would find it from a shell)."""
    name = f"my_mixers_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_MIXERS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))  # the cwd fallback appends; undone after
    return name


def test_a_user_mixer_in_its_own_file_trains_and_evaluates_from_the_cli(tmp_path, in_mixer_dir):
    data = write_tiny_dataset(tmp_path / "data")
    spec = f"{in_mixer_dir}:GatedShift:32*2"
    result = invoke("train", "--data", data, "--out", tmp_path / "run", "--model", spec, *TRAIN)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["layers"] == spec
    result = invoke("eval", tmp_path / "run", "--split", "test", "--no-slices")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "eval" / "test.json").read_text())["n"] == 6
    result = invoke("models", spec, "--vocab-size", "50", "--check-causal")
    assert result.exit_code == 0 and "causal" in result.output


@pytest.mark.parametrize(
    "spec, fragment",
    [("{m}:Missing:32", "has no class 'Missing'"), ("nowhere_xyz:Mixer:32", "cannot import module"),
     ("{m}:Peeks:32", "is not causal")],
)
def test_broken_user_mixers_are_one_line_errors(tmp_path, in_mixer_dir, spec, fragment):
    result = invoke("models", spec.format(m=in_mixer_dir), "--vocab-size", "50", "--check-causal")
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_a_gpt2_run_exports_to_transformers_and_scores_the_same_there(tmp_path):
    transformers = pytest.importorskip("transformers")
    from lolameme.train.checkpoint import load_run

    data = write_tiny_dataset(tmp_path / "data")
    result = invoke("train", "--data", data, "--out", tmp_path / "run", "--model", "gpt2:32*2",
                    "--set", "model.n_head=4", *TRAIN)
    assert result.exit_code == 0, result.output
    assert invoke("export", tmp_path / "run", "--to", "hf", tmp_path / "hf").exit_code == 0
    assert invoke("export", tmp_path / "run", "--to", "hf", tmp_path / "hf").exit_code == 2  # exists
    assert invoke("export", tmp_path / "run", "--to", "onnx", tmp_path / "x").exit_code == 2

    ours = load_run(tmp_path / "run").model
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", local_files_only=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    run_tokenizer = load_run(tmp_path / "run").tokenizer
    ids = run_tokenizer.encode("a = 12 ; print ( a )")
    assert tokenizer.encode("a = 12 ; print ( a )", add_special_tokens=False) == ids
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (
        run_tokenizer.bos_id, run_tokenizer.eos_id, run_tokenizer.pad_id)
    idx = torch.tensor([[run_tokenizer.bos_id, *ids, run_tokenizer.sep_id]])
    with torch.no_grad():
        assert (theirs(idx).logits - ours(idx)).abs().max().item() < 1e-4

    assert invoke("eval", tmp_path / "run", "--split", "test", "--no-slices").exit_code == 0
    result = invoke("eval", "--hf-model", tmp_path / "hf", "--data", data, "--split", "test", "--no-slices")
    assert result.exit_code == 0, result.output
    mine = json.loads((tmp_path / "run" / "eval" / "test.json").read_text())
    exported = json.loads((tmp_path / "hf" / "eval" / "test.json").read_text())
    assert exported["hf_model"] == str(tmp_path / "hf")
    for key in ("exact_match", "token_accuracy", "slices"):
        assert exported[key] == mine[key], key
    predictions = [json.loads((d / "eval" / "test.json").read_text())["n"] for d in (tmp_path / "run", tmp_path / "hf")]
    assert predictions == [6, 6]
    assert invoke("eval", "--hf-model", tmp_path / "hf").exit_code == 2  # no --data
