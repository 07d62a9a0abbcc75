"""The ``lolameme`` command.

Each package owns its subcommands in its own ``cli.py`` and exposes
``register(app)``; this file only assembles them and turns every
:class:`~lolameme.errors.LolamemeError` into a one-line message on stderr with
exit status 2 (never a traceback). Packages import their heavy dependencies
(torch, pyarrow) inside the command functions, so ``lolameme run`` stays fast.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from lolameme.errors import LolamemeError

USER_ERROR_EXIT = 2


class _Group(TyperGroup):
    """Shows a LolamemeError as ``Error: <Class>: <message>`` on stderr, exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LolamemeError as exc:
            print(f"Error: {type(exc).__name__}: {exc}", file=sys.stderr)
            raise typer.Exit(code=USER_ERROR_EXIT) from exc


app = typer.Typer(
    cls=_Group,
    help="LOLAMEME: languages, datasets, models and experiments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the package version."""
    from lolameme import __version__

    typer.echo(__version__)


def _register_packages() -> None:
    from lolameme.analysis import cli as analysis_cli
    from lolameme.data import cli as data_cli
    from lolameme.eval import cli as eval_cli
    from lolameme.experiments import cli as experiments_cli
    from lolameme.lang import cli as lang_cli
    from lolameme.models import cli as models_cli
    from lolameme.train import cli as train_cli

    for package in (lang_cli, data_cli, models_cli, train_cli, eval_cli, analysis_cli, experiments_cli):
        package.register(app)


_register_packages()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
