"""Hundreds of bad invocations across every verb: each ends in exit 2 with one line on stderr.

The invocations are built from the commands themselves (every option given an empty value, a
non-number where a number goes, a number under its minimum; an unknown option; a missing
argument) plus hand-written ones that reach each verb's own checks (bad files, paths that cannot
be written, bad presets, bad YAML). They run in-process through typer's CliRunner, so the whole
test takes seconds. A new verb or option is fuzzed without editing this file.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from lolameme.cli import app

NUMBERS = (int, float)


def _commands(command, path=()):
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _base(annotation) -> type | None:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if typing.get_origin(annotation) is typing.Union and len(args) == 1 else annotation


def generated_cases() -> list[list[str]]:
    """Bad invocations derived from each command's parameters."""
    cases = []
    for path, command in _commands(typer.main.get_command(app)):
        cases.append([*path, "--no-such-option"])
        required = [p for p in command.params if p.required and not p.opts[0].startswith("-")]
        if required:
            cases.append(list(path))  # a missing argument
        for param in command.params:
            option = param.opts[0]
            if not option.startswith("-") or getattr(param, "is_flag", False):
                continue
            cases.append([*path, option, ""])
            kind = _base(param.type_descriptor.annotation)
            if kind in NUMBERS:
                cases.append([*path, option, "not-a-number"])
                if param.min is not None:
                    cases.append([*path, option, str(param.min - 1)])
    return cases


def written_cases(tmp: Path) -> list[list[str]]:
    """Bad invocations that get past parsing into each verb's own checks."""
    (tmp / "file").write_text("x")
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    (tmp / "loop").symlink_to(tmp / "loop2")
    (tmp / "loop2").symlink_to(tmp / "loop")
    (tmp / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000)
    (tmp / "list.yaml").write_text("- 1\n- 2\n")
    (tmp / "broken.yaml").write_text("a: [1, 2\n")
    (tmp / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp / "g-deep.json").write_text("[" * 5000 + "]" * 5000)
    (tmp / "g-long.json").write_text('{"abc": ' + "7" * 5000 + "}")
    (tmp / "g-minus.json").write_text('["a = --5"]')
    (tmp / "g-bool.json").write_text('{"abc": true}')
    (tmp / "programs.bin").write_bytes(b"\xff\xfe\x00")
    (tmp / "lra").mkdir()
    (tmp / "lra" / "basic_train.tsv").write_bytes(b"Source\tTarget\n" + bytes(range(128, 256)))
    (tmp / "empty").mkdir()
    bad_outs = [str(tmp / "file" / "x"), str(tmp / "dangling"), str(tmp / "loop"), str(tmp / "loop" / "x"),
                str(tmp / "file")]
    if Path("/sys").is_dir():
        bad_outs.append("/sys/lolameme-fuzz")
    small = ["--set", "dataset_size=10", "--set", "test_dataset_size=2"]
    cases = [["generate", "-o", out, *small] for out in bad_outs]
    cases += [["listops", "import", str(tmp / "lra"), "-o", out] for out in bad_outs]
    configs = ["deep.yaml", "list.yaml", "broken.yaml", "binary.yaml", "nowhere.yaml"]
    cases += [["generate", "-o", str(tmp / "o"), "-c", str(tmp / c)] for c in configs]
    cases += [["train", "-c", str(tmp / c), "--data", str(tmp / "empty"), "--out", str(tmp / "r")] for c in configs]
    sets = ["a=[", "dataset_size={", "dataset_size=1e8x", "nokey", "=3", "global_var_count=100000000000",
            "statement_count=1000000000", "dataset_size=1000000000000000", "mean_var_length=.inf",
            "mean_var_length=.nan", "no_such_key=1", "language=klingon", "seed=-1", "max_int_value=1e99",
            "latent_type_a_modification=*0", "operators.lola=[+, +]", "a.b.c=1"]
    cases += [["generate", "-o", str(tmp / "o"), "--set", s] for s in sets]
    cases += [["generate", "-o", str(tmp / "o"), "-p", "listops-small", "--set", s]
              for s in ["max_depth=0", "max_length=100000000000", "num_train_samples=-1", "max_args=1", "x=1"]]
    cases += [["generate", "-o", str(tmp / "o"), "-p", p] for p in ["no-such-preset", "../etc", "BASE "]]
    cases += [["generate", "-o", str(tmp / "o"), "--format", f] for f in ["csv", "PARQUET", "json"]]
    globals_files = ["g-deep.json", "g-long.json", "g-minus.json", "g-bool.json", "nowhere.json", "file"]
    cases += [["run", "abc = 1;print(abc)", "-g", str(tmp / g)] for g in globals_files]
    cases += [["run", "--file", str(tmp / f)] for f in ["programs.bin", "nowhere.txt", "empty"]]
    cases += [["run", "x = 1;print(x)", "--to", t] for t in ["klingon", "LOLA", "none"]]
    cases += [["run", "x = 1;print(x)", "--latent-set", s] for s in ["boundary_a=x", "nokey=1", "modification_a=*0"]]
    cases += [["run", "x = 1;print(x)", "--trace", "--to", "meme"], ["run", "x = 1;print(x)", "--file", "-"]]
    cases += [["models", "no-such-model"], ["models", "gpt2-tiny", "--set", "a=["],
              ["models", "gpt2-tiny", "--set", "nokey"]]
    cases += [["train", "--data", str(tmp / d), "--out", str(tmp / "r"), "--steps", "1"]
              for d in ["nowhere", "empty", "file"]]
    cases += [["train", "--data", str(tmp / "empty"), "--out", str(tmp / "r"), "--set", s]
              for s in ["a=[", "nokey", "model.x=["]]
    cases += [["train", "--resume"], ["train", "--data", str(tmp / "empty")], ["train", "--recipe", "no-such-recipe",
                                                                             "--data", str(tmp / "empty"),
                                                                             "--out", str(tmp / "r")]]
    cases += [["eval", str(tmp / r)] for r in ["nowhere", "empty", "file"]]
    cases += [["eval", str(tmp / "empty"), "--checkpoint", c] for c in ["worst", "-x", "1.5"]]
    cases += [["analyze", str(tmp / r), "--split", "test"] for r in ["nowhere", "empty", "file"]]
    cases += [["plot", str(tmp / r)] for r in ["nowhere", "empty"]]
    cases += [["listops", "import", str(tmp / d), "-o", str(tmp / "lo")] for d in ["nowhere", "empty", "file", "lra"]]
    cases += [["experiment", verb, s] for verb in ("run", "status", "report")
              for s in ["no-such-spec", str(tmp / "broken.yaml"), str(tmp / "deep.yaml"), str(tmp / "list.yaml")]]
    cases += [["experiment", "run", "listops", "--scale", "galactic"], ["experiment", "run", "listops", "--shard", "3/2"],
              ["experiment", "run", "listops", "--shard", "x"], ["experiment", "run", "listops", "--backend", "carrier-pigeon"],
              ["experiment", "list", "--specs", str(tmp / "nowhere")]]
    return cases


def _one_line_failure(args: list[str]) -> str | None:
    """None when ``args`` fail as promised; else what went wrong."""
    result = CliRunner().invoke(app, args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.exit_code != 2:
        return f"exit {result.exit_code} ({result.exception!r}): {result.output[-300:]!r}"
    if "Traceback" in result.output or not isinstance(result.exception, (SystemExit, type(None))):
        return f"traceback: {result.exception!r}"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {result.stderr[:400]!r}"
    return None


def test_at_least_200_bad_invocations_each_fail_in_one_line(tmp_path):
    cases = generated_cases() + written_cases(tmp_path)
    verbs = {args[0] for args in cases}
    assert len(cases) >= 200 and len(verbs) >= 10, (len(cases), sorted(verbs))
    problems = {" ".join(map(repr, args)): why for args in cases if (why := _one_line_failure(args))}
    assert not problems, f"{len(problems)} of {len(cases)} invocations misbehaved:\n" + "\n".join(
        f"{args}: {why}" for args, why in list(problems.items())[:25])


@pytest.mark.parametrize("args", [["--bogus"], ["bogus"], ["generate", "--out="], ["listops", "import", "--out", "x"]])
def test_group_level_mistakes_are_one_line(args):
    assert _one_line_failure(args) is None
