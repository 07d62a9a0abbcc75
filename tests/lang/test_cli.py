"""`lolameme run` through typer's runner."""

import json

from typer.testing import CliRunner

from lolameme.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, ["run", *args], input=input)


def test_run_prints_output():
    result = invoke("a = (2 + 3);b = {a @ 2};print{b}")
    assert result.exit_code == 0 and result.stdout.strip() == "10"


def test_run_error_is_one_line_exit_2():
    result = invoke("a = (1 + 2};print(a)")
    assert result.exit_code == 2
    assert "ParseError: column 11: expected ')' to close '(' at column 5" in result.output
    assert "Traceback" not in result.output


def test_globals_file_and_latent(tmp_path):
    table = tmp_path / "globals.json"
    table.write_text(json.dumps({"aa": 3, "x_a": 5}))
    assert invoke("r = (aa + xA);print(r)", "--globals", str(table)).stdout.strip() == "8"
    assert invoke("r = (aa + xA);print(r)", "--globals", str(table), "--latent").stdout.strip() == str(6 + 2)
    changed = invoke("r = (aa + xA);print(r)", "-g", str(table), "--latent-set", "modification_a=*3")
    assert changed.stdout.strip() == str(9 + 2)
    paper_style = tmp_path / "paper.json"
    paper_style.write_text(json.dumps(["aa = 3", "xA = -5"]))
    assert invoke("r = (aa + xA);print(r)", "-g", str(paper_style)).stdout.strip() == "-2"


def test_bad_globals_and_options_are_clear():
    result = invoke("a = 1;print(a)", "--globals", "/no/such/file.json")
    assert result.exit_code == 2 and "cannot read globals file" in result.output
    result = invoke("a = 1;print(a)", "--latent-set", "boundary_a=99")
    assert result.exit_code == 2 and "boundary_a" in result.output
    result = invoke("a = 1;print(a)", "--to", "python")
    assert result.exit_code == 2 and "expected one of lola, meme, mixed" in result.output


def test_bad_globals_content(tmp_path):
    table = tmp_path / "globals.json"
    table.write_text(json.dumps({"Bad": 3}))
    result = invoke("a = 1;print(a)", "--globals", str(table))
    assert result.exit_code == 2 and "'Bad' is not a valid name" in result.output
    table.write_text(json.dumps({"xY": 3, "x_y": 4}))
    result = invoke("a = 1;print(a)", "--globals", str(table))
    assert result.exit_code == 2 and "different values" in result.output


def test_translate():
    assert invoke("xv_h_mi = {a | 2};print{xvHMi}", "--to", "lola").stdout.strip() == "xvHMi = (a + 2);print(xvHMi)"
    assert invoke("xvHMi = (a + 2);print(xvHMi)", "--to", "meme").stdout.strip() == "xv_h_mi = {a | 2};print{xv_h_mi}"
    first = invoke("a = ((b + 2) * c);print(a)", "--to", "mixed", "--seed", "7").stdout
    assert first == invoke("a = ((b + 2) * c);print(a)", "--to", "mixed", "--seed", "7").stdout


def test_trace_table():
    result = invoke("a = 2;b = (a * 3);c = 9;print(b)", "--trace")
    assert result.exit_code == 0
    assert "b = (a * 3)" in result.stdout and "noise" in result.stdout
    assert "output=6 hops=2" in result.stdout and "n_noise=1" in result.stdout


def test_stdin_lines_continue_after_errors():
    programs = "a = 1;print(a)\n\nb = (1 % 0);print(b)\nc = 3;print{c}\n"
    result = invoke(input=programs)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["1", "", "error: EvalError: statement 1: modulo by zero", "3"]
    assert "1 of 3 programs failed (line 3)" in result.stderr


def test_file_of_programs(tmp_path):
    path = tmp_path / "programs.txt"
    path.write_text("a = 1;print(a)\nb = {2 @ 3};print{b}\n")
    result = invoke("--file", str(path))
    assert result.exit_code == 0 and result.stdout.splitlines() == ["1", "6"]
