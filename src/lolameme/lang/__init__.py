"""The LOLAMEME languages: LoLa, MeMe and their mixture.

One dialect-free AST, one parser for every surface form, an interpreter with
optional latent-type rules, rendering to either dialect, and tracing for
dataset annotations. The specification is docs/language.md. Nothing here
imports torch.
"""

from lolameme.lang.ast import OPS, Assign, BinOp, Expr, Num, Program, Var
from lolameme.lang.interpreter import evaluate, run_program
from lolameme.lang.latent import LatentRules
from lolameme.lang.names import to_camel, to_snake
from lolameme.lang.parser import parse
from lolameme.lang.render import render
from lolameme.lang.trace import StatementTrace, Trace, trace

__all__ = [
    "parse",
    "evaluate",
    "run_program",
    "trace",
    "render",
    "LatentRules",
    "to_camel",
    "to_snake",
    "Program",
    "Assign",
    "BinOp",
    "Num",
    "Var",
    "Expr",
    "OPS",
    "Trace",
    "StatementTrace",
]
