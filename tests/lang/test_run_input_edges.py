"""``lolameme run`` and global tables at the edges: line splitting, unrepresentable globals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.errors import ConfigError
from lolameme.lang import evaluate
from lolameme.lang.cli import split_lines
from lolameme.lang.global_table import load_globals

# characters str.splitlines breaks at that are not line ends for `run`
ODD = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_lines_end_at_newline_and_crlf_only():
    assert split_lines("a\r\nb\nc") == ["a", "b", "c"]
    assert split_lines("a\n\nb\n") == ["a", "", "b"]
    assert split_lines("a" + "".join(ODD) + "b\n") == ["a" + "".join(ODD) + "b"]


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_output_lines_align_with_input_lines(tmp_path, via):
    programs = [f"x{sep}= 1;print(x)" if sep in "\f\v" else "x = 1;print(x)" for sep in ODD]
    programs += ["y = 2;print(y)\r", "", "z = 3;print(z)"]
    text = "\n".join(programs) + "\n"
    if via == "file":
        path = tmp_path / "programs.txt"
        path.write_bytes(text.encode("utf-8"))
        result = CliRunner().invoke(app, ["run", "--file", str(path)])
    else:
        result = CliRunner().invoke(app, ["run"], input=text.encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n")[:-1] == ["1"] * len(ODD) + ["2", "", "3"]


@pytest.mark.parametrize("content, why", [
    ('["a = --5"]', "expected 'name = integer'"),
    ('["a = 5-"]', "expected 'name = integer'"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"abc": ' + "7" * 5000 + "}", "too long"),
])
def test_globals_file_refuses_what_it_cannot_represent(tmp_path, content, why):
    path = tmp_path / "g.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=why) as caught:
        load_globals(path)
    assert "\n" not in str(caught.value)
    result = CliRunner().invoke(app, ["run", "abc = 1;print(abc)", "--globals", str(path)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_globals_file_still_reads_negative_values(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(["abc = -5", "def = 7"]))
    assert load_globals(path) == {"abc": -5, "def": 7}


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_global_is_refused_by_the_python_api(value):
    with pytest.raises(ConfigError, match="not booleans"):
        evaluate("print(abc)", {"abc": value})
    assert evaluate("print(abc)", {"abc": 1}) == 1
