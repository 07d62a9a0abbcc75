"""Reading LRA's released ListOps files and importing them as a lolameme dataset.

LRA's ``listops-1000`` folder holds ``basic_train.tsv``, ``basic_val.tsv`` and
``basic_test.tsv``: a header line ``Source<TAB>Target``, then one row per
example, the source written with an extra pair of parentheses around every
subtree (``( ( ( [MAX 2 ) 9 ) ] )``) and the target a digit. Import converts the
sources to the plain text form, recomputes every label with our evaluator and
reports each disagreement, so a user can trust (or distrust) both.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lolameme.data.io import DatasetWriter, Format
from lolameme.data.listops.rules import analyze, normalize
from lolameme.data.listops.stats import SplitStats
from lolameme.errors import DatasetError, ParseError
from lolameme.progress import Progress

HEADER = ("Source", "Target")
SPLITS = ("train", "val", "test")
_BATCH = 4_096
_EXAMPLES_KEPT = 20  # disagreements listed by line in the manifest (all are counted)


@dataclass(frozen=True)
class LraRow:
    line: int  # 1-based line number in the file (the header is line 1)
    source: str  # as in the file, parentheses included
    target: int


def read_lra_tsv(path: str | os.PathLike) -> Iterator[LraRow]:
    """Rows of one LRA ListOps TSV file, checked for LRA's exact layout (DatasetError otherwise)."""
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise DatasetError(f"cannot open {path}: {exc.strerror or exc}") from None
    line_number = 1
    try:
        with handle:
            header = handle.readline().rstrip("\r\n").split("\t")
            if tuple(header) != HEADER:
                raise DatasetError(f"{path}:1: expected the LRA header 'Source<TAB>Target', "
                                   f"found {'<TAB>'.join(header)[:80]!r}")
            for line_number, line in enumerate(handle, start=2):
                row = _parse_row(path, line_number, line.rstrip("\r\n"))
                if row is not None:
                    yield row
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text (a binary file?) near line {line_number}; expected LRA's "
                           "tab-separated Source/Target rows") from None


def _parse_row(path: Path, line_number: int, line: str) -> LraRow | None:
    if not line:
        return None
    fields = line.split("\t")
    if len(fields) != 2:
        raise DatasetError(f"{path}:{line_number}: expected 2 tab-separated fields (Source, Target), "
                           f"found {len(fields)}")
    target = fields[1].strip()
    if len(target) != 1 or not target.isdigit():
        raise DatasetError(f"{path}:{line_number}: Target {target[:20]!r} is not a digit 0-9")
    return LraRow(line_number, fields[0], int(target))


def find_lra_files(directory: str | os.PathLike) -> dict[str, Path]:
    """Split name -> file: the one ``*train.tsv``, ``*val.tsv``, ``*test.tsv`` in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"LRA ListOps directory {directory} does not exist")
    found: dict[str, Path] = {}
    for split in SPLITS:
        matches = sorted(directory.glob(f"*{split}.tsv"))
        if len(matches) > 1:
            raise DatasetError(f"{directory}: several files for split {split!r}: {', '.join(m.name for m in matches)}")
        if matches:
            found[split] = matches[0]
    if not found:
        raise DatasetError(f"{directory} holds no LRA ListOps files; expected basic_train.tsv, basic_val.tsv, "
                           f"basic_test.tsv (any names ending in train.tsv / val.tsv / test.tsv)")
    return found


@dataclass
class _Disagreements:
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, file_label: int, computed: int) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES_KEPT:
            self.examples.append({"line": line, "file_label": str(file_label), "computed_label": str(computed)})


def import_lra(directory: str | os.PathLike, out_dir: str | os.PathLike, *, fmt: Format = "parquet",
               overwrite: bool = False, strict: bool = False, progress: bool = False) -> dict[str, Any]:
    """Convert LRA's TSV files into a dataset directory; return its manifest.

    Every label is recomputed; the file's label is kept (it is the published
    data) and disagreements are counted per split in the manifest
    (``label_disagreements``), with the first lines listed. ``strict`` makes
    any disagreement a DatasetError instead. Trees occurring more than once
    (within or across splits) are counted in ``duplicates_found`` and kept.
    """
    files = find_lra_files(directory)
    seen: set[bytes] = set()
    duplicates = 0
    disagreements = {split: _Disagreements() for split in files}
    stats = {split: SplitStats() for split in files}
    with DatasetWriter(out_dir, fmt=fmt, overwrite=overwrite) as writer, \
            Progress(None, "listops import", enabled=progress) as bar:
        for split, path in files.items():
            out = writer.split(split)
            batch = _empty_batch()
            for row in read_lra_tsv(path):
                text = normalize(row.source)
                try:
                    analysis = analyze(text)
                except ParseError as exc:
                    raise DatasetError(f"{path}:{row.line}: malformed ListOps source: {exc}") from exc
                if analysis.value != row.target:
                    disagreements[split].add(row.line, row.target, analysis.value)
                    if strict:
                        raise DatasetError(f"{path}:{row.line}: file label {row.target} but the expression "
                                           f"evaluates to {analysis.value} (strict import)")
                digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
                duplicates += digest in seen
                seen.add(digest)
                batch["input"].append(text)
                batch["label"].append(str(row.target))
                batch["depth"].append(analysis.depth)
                batch["n_ops"].append(analysis.n_ops)
                batch["lra_length"].append(analysis.lra_length)
                if len(batch["input"]) >= _BATCH:
                    _write(out, batch, stats[split])
                    bar.advance(_BATCH)
                    batch = _empty_batch()
            bar.advance(len(batch["input"]))
            _write(out, batch, stats[split])
        manifest = {
            "task": "listops",
            "config": None,
            "seed": None,
            "source": {"format": "lra-tsv", "directory": str(Path(directory).resolve()),
                       "files": {split: path.name for split, path in files.items()}},
            "duplicates_dropped": 0,
            "duplicates_found": duplicates,
            "label_disagreements": {split: {"count": d.count, "examples": d.examples}
                                    for split, d in disagreements.items()},
            "label_stats": {split: s.label_stats() for split, s in stats.items()},
            "length_stats": {split: s.length_stats() for split, s in stats.items()},
        }
        return writer.finish(manifest)


def _empty_batch() -> dict[str, list]:
    return {"input": [], "label": [], "depth": [], "n_ops": [], "lra_length": []}


def _write(out, batch: dict[str, list], stats: SplitStats) -> None:
    if batch["input"]:
        stats.add(np.array([int(x) for x in batch["label"]]), np.array(batch["lra_length"]))
        out.write(batch)
