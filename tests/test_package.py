import subprocess
import sys

import lolameme
from typer.testing import CliRunner

from lolameme.cli import app


def test_errors_share_one_root():
    for cls in (lolameme.ParseError, lolameme.EvalError, lolameme.ConfigError, lolameme.DatasetError,
                lolameme.ModelError, lolameme.CheckpointError):
        assert issubclass(cls, lolameme.LolamemeError)


def test_import_is_light():
    code = "import lolameme, lolameme.cli, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_help():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0


def test_lolameme_error_becomes_message_and_exit_2():
    result = CliRunner().invoke(app, ["generate", "--out", "unused", "--preset", "no-such-preset"])
    assert result.exit_code == 2
    assert "unknown preset 'no-such-preset'" in result.output
