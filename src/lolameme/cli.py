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

try:  # typer vendors its own click from 0.24 on
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import NoArgsIsHelpError, UsageError

USER_ERROR_EXIT = 2


def _fail(message: str) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned exit (status 2)."""
    print(" ".join(message.split()), file=sys.stderr)
    return typer.Exit(code=USER_ERROR_EXIT)


class _Group(TyperGroup):
    """Every user error ends as one line on stderr and exit status 2, never a traceback or a box.

    A LolamemeError reads ``Error: <Class>: <message>``; a usage error (unknown
    option, bad value, missing argument) ``Error: <command>: <problem> (see --help)``;
    an operating-system error on a path that no check caught first (read-only,
    not a directory, a symlink loop...) ``Error: <OSError class>: <reason>: <path>``.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            raise _usage(exc) from None

    def invoke(self, ctx):
        _refuse_empty_arguments(ctx)
        try:
            return super().invoke(ctx)
        except LolamemeError as exc:
            raise _fail(f"Error: {type(exc).__name__}: {exc}") from None
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            raise _usage(exc) from None
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise _fail(f"Error: {type(exc).__name__}: {exc.strerror or exc}{where}") from None


def _refuse_empty_arguments(ctx) -> None:
    """An empty argument (``--out ''``) is never meaningful; pathlib would quietly read it as ``.``."""
    args = [*getattr(ctx, "_protected_args", []), *ctx.args]
    for k, arg in enumerate(args):
        if not arg.strip() or (arg.startswith("--") and arg.endswith("=")):
            owner = arg.rstrip("=") if arg.strip() else (args[k - 1] if k and args[k - 1].startswith("-") else "")
            what = f"option {owner}" if owner else f"argument {k + 1}"
            verb = args[:1] if args and not args[0].startswith("-") else []
            command = " ".join([ctx.command_path, *verb])
            raise _fail(f"Error: {command}: {what} is empty; give a value (see {command} --help)")


def _usage(exc: UsageError) -> typer.Exit:
    command = exc.ctx.command_path if exc.ctx is not None else "lolameme"
    return _fail(f"Error: {command}: {exc.format_message()} (see {command} --help)")


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
