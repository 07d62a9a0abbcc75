"""Imports run one way (docs/architecture.md): a package imports only the shared modules, itself and
the packages below it, never one above it or beside it. Checked on the source, imports inside
functions included, so a lazy import cannot hide an upward edge."""

from __future__ import annotations

import ast
from pathlib import Path

import lolameme

ROOT = Path(lolameme.__file__).parent
SHARED = {"__version__", "atomic", "configfile", "errors", "machine", "progress", "tokenizers", "validation"}
RANK = {"lang": 1, "models": 1, "data": 2, "train": 3, "eval": 4, "analysis": 5, "experiments": 5}


def _imported_parts(tree: ast.AST) -> set[str]:
    """The first name below ``lolameme`` of every absolute import in ``tree``."""
    parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lolameme"):
            names = node.module.split(".")
            parts.update([names[1]] if len(names) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            parts.update(a.name.split(".")[1] for a in node.names if a.name.startswith("lolameme."))
    return parts


def _allowed(package: str, target: str) -> bool:
    if target in SHARED or target == package:
        return True
    if package in SHARED:
        return False
    return target in RANK and RANK[target] < RANK[package]


def test_no_import_runs_upward_or_sideways():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).parts
        package = rel[0] if len(rel) > 1 else rel[0][:-3]
        if package in ("__init__", "cli", "__main__"):
            continue  # the facade and the command assemble every package
        assert package in RANK or package in SHARED, f"{path}: add its package to RANK or SHARED"
        for target in _imported_parts(ast.parse(path.read_text(encoding="utf-8"))):
            if not _allowed(package, target):
                wrong.append(f"{'/'.join(rel)} imports lolameme.{target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_check_sees_lazy_imports():
    tree = ast.parse("def f():\n    from lolameme.train.export import x\n")
    assert _imported_parts(tree) == {"train"}
    assert not _allowed("models", "train") and _allowed("eval", "train") and not _allowed("lang", "models")
