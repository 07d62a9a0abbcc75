"""The ``lolameme models`` verb."""

from __future__ import annotations

from typer.testing import CliRunner

from lolameme.cli import app

runner = CliRunner()


def test_models_lists_every_preset_with_its_exact_count():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 3}
    assert "124,439,808" in rows["gpt2"]
    assert "153,700,416" in rows["hyena"]
    assert all("155,990,880" in rows[f"thex-{i}"] for i in range(18))
    assert {"gpt2-tiny", "hyena-tiny", "thex-tiny-0", "gpt2-small", "hyena-small"} <= set(rows)


def test_models_shows_one_spec_layer_by_layer_with_overrides():
    result = runner.invoke(app, ["models", "hyena:72*2,gpt2:64", "--vocab-size", "100", "--set", "n_head=4"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "adapters.into_2" in result.output and "72→64" in result.output
    assert "adapters.into_head" in result.output and "64→72" in result.output


def test_models_reports_bad_specs_as_errors_with_status_2():
    result = runner.invoke(app, ["models", "gpt2:64", "--set", "n_head=5"])
    assert result.exit_code == 2
    assert "ModelError" in result.output and "n_head=5" in result.output
    result = runner.invoke(app, ["models", "transformer-xl"])
    assert result.exit_code == 2 and "unknown model preset" in result.output
