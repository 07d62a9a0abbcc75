"""Dataset directories on disk: one writer and one reader for every task.

A dataset directory (see ../shared/design.md) holds one file per split
(``train.parquet``, ``test_with_globals.parquet``, ... or ``.jsonl``), optional
side files such as ``globals.json``, and ``manifest.json``. The manifest is
written last, so *a directory is a complete dataset exactly when its manifest
exists*. Every file is first written under a temporary name and renamed into
place, so an interrupted run never leaves a file that looks finished, and the
sha256 of each split file is recorded in the manifest.

Records stream to disk in batches (Parquet row groups), so memory stays
bounded whatever the corpus size.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from lolameme.errors import DatasetError

MANIFEST = "manifest.json"
FORMATS = ("parquet", "jsonl")
Format = Literal["parquet", "jsonl"]
CORE_COLUMNS = ("input", "label")
_TMP_SUFFIX = ".tmp"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path.tmp`` and rename it into place."""
    path = Path(path)
    tmp = path.with_name(path.name + _TMP_SUFFIX)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class SplitWriter:
    """Streams the records of one split into ``<name>.<format>`` via a temporary file.

    Batches are column dicts (``{"input": [...], "label": [...], ...}``); the
    first batch fixes the column order and types, later batches must match.
    """

    def __init__(self, directory: Path, name: str, fmt: Format):
        self.name = name
        self.fmt = fmt
        self.path = directory / f"{name}.{fmt}"
        self._tmp = self.path.with_name(self.path.name + _TMP_SUFFIX)
        self._schema: pa.Schema | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._jsonl = open(self._tmp, "w", encoding="utf-8") if fmt == "jsonl" else None
        self.rows = 0
        self.closed = False

    def write(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """Append one batch of records given as equal-length columns."""
        if self.closed:
            raise DatasetError(f"split {self.name!r} is already closed")
        missing = [c for c in CORE_COLUMNS if c not in columns]
        if missing:
            raise DatasetError(f"split {self.name!r}: batch lacks core column(s) {missing}; every record needs 'input' and 'label'")
        table = pa.Table.from_pydict(dict(columns), schema=self._schema)
        if self._schema is None:
            self._schema = table.schema
        if table.num_rows == 0:
            return
        if self.fmt == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
            self._parquet.write_table(table)
        else:
            for row in table.to_pylist():  # works for Python lists and pyarrow arrays alike
                self._jsonl.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += table.num_rows

    def close(self) -> dict[str, Any]:
        """Finish the file, rename it into place, and return its manifest entry."""
        if not self.closed:
            if self.fmt == "parquet":
                if self._parquet is None:  # an empty split still gets a valid file
                    schema = self._schema or pa.schema([(c, pa.string()) for c in CORE_COLUMNS])
                    self._parquet = pq.ParquetWriter(self._tmp, schema, compression="zstd")
                self._parquet.close()
            else:
                self._jsonl.close()
            os.replace(self._tmp, self.path)
            self.closed = True
        return {"rows": self.rows, "file": self.path.name, "sha256": sha256_file(self.path)}

    def abort(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._jsonl is not None and not self._jsonl.closed:
            self._jsonl.close()
        self._tmp.unlink(missing_ok=True)
        self.closed = True


class DatasetWriter:
    """Writes one dataset directory; use as a context manager and call :meth:`finish`.

    >>> with DatasetWriter(out, fmt="parquet") as writer:   # doctest: +SKIP
    ...     train = writer.split("train"); train.write({"input": [...], "label": [...]})
    ...     writer.write_json("globals.json", {...})
    ...     writer.finish({"task": "lolameme", "config": {...}, "seed": 0})

    Refuses to touch an existing complete dataset unless ``overwrite``; with
    ``overwrite`` the old manifest is removed *first*, so the directory stops
    looking complete before any file changes. Leaving the block without
    :meth:`finish` (an error, Ctrl-C) removes the temporary files and writes no
    manifest.
    """

    def __init__(self, out_dir: str | os.PathLike, fmt: Format = "parquet", overwrite: bool = False):
        if fmt not in FORMATS:
            raise DatasetError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
        self.out_dir = Path(out_dir)
        self.fmt = fmt
        manifest = self.out_dir / MANIFEST
        if manifest.exists():
            if not overwrite:
                raise DatasetError(f"{self.out_dir} already holds a complete dataset; pass overwrite (--overwrite) to replace it")
            self._stale = _listed_files(self.out_dir)
            manifest.unlink()
        else:
            self._stale = set()
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise DatasetError(f"{self.out_dir} exists and is not a directory")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._splits: dict[str, SplitWriter] = {}
        self._side_files: list[str] = []
        self.finished = False

    def split(self, name: str) -> SplitWriter:
        if name in self._splits:
            raise DatasetError(f"split {name!r} opened twice")
        if not name.replace("_", "").isalnum():
            raise DatasetError(f"bad split name {name!r}: use letters, digits and underscores")
        writer = SplitWriter(self.out_dir, name, self.fmt)
        self._splits[name] = writer
        return writer

    def write_json(self, filename: str, obj: Any) -> None:
        """Write a side file such as ``globals.json`` (atomically)."""
        write_json_atomic(self.out_dir / filename, obj)
        self._side_files.append(filename)

    def finish(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Close every split, remove stale files of a replaced dataset, write the manifest last."""
        from lolameme import __version__
        from lolameme.data.card import write_card

        if "task" not in manifest:
            raise DatasetError("manifest needs a 'task' entry")
        splits = {name: writer.close() for name, writer in self._splits.items()}
        keep = {entry["file"] for entry in splits.values()} | set(self._side_files)
        for stale in self._stale - keep:
            (self.out_dir / stale).unlink(missing_ok=True)
        full = {"task": manifest["task"], "package_version": __version__}
        full.update({k: v for k, v in manifest.items() if k != "task"})
        full["splits"] = splits
        if self._side_files:
            full["files"] = sorted(self._side_files)
        write_card(self.out_dir, full)  # README.md for Hugging Face and readers, before the manifest
        write_json_atomic(self.out_dir / MANIFEST, full)
        self.finished = True
        return full

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.finished:
            for writer in self._splits.values():
                if not writer.closed:
                    writer.abort()


def _listed_files(directory: Path) -> set[str]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return {e["file"] for e in manifest.get("splits", {}).values()} | set(manifest.get("files", []))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


# ---------------------------------------------------------------- reading


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a complete dataset; DatasetError if missing or unreadable."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise DatasetError(f"dataset directory {directory} does not exist")
    if not path.exists():
        raise DatasetError(f"{directory} is not a complete dataset: {MANIFEST} is missing (interrupted generation?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or "splits" not in manifest or "task" not in manifest:
        raise DatasetError(f"{path} lacks 'task' or 'splits'")
    return manifest


def load_split(directory: str | os.PathLike, split: str, *, verify: bool = False,
               columns: Iterable[str] | None = None) -> pa.Table:
    """One split as a pyarrow Table (``input``, ``label`` and annotation columns).

    ``verify`` re-hashes the file against the manifest's sha256.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    entry = manifest["splits"].get(split)
    if entry is None:
        raise DatasetError(f"{directory} has no split {split!r}; it has: {', '.join(manifest['splits'])}")
    path = directory / entry["file"]
    if not path.exists():
        raise DatasetError(f"{path} is listed in the manifest but missing")
    if verify and sha256_file(path) != entry["sha256"]:
        raise DatasetError(f"{path} does not match the sha256 in the manifest (corrupt or edited)")
    cols = list(columns) if columns is not None else None
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path, columns=cols)
        else:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            table = pa.Table.from_pylist(rows)
            if cols is not None:
                table = table.select(cols)
    except (pa.ArrowException, ValueError, KeyError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    for column in CORE_COLUMNS:
        if (cols is None or column in cols) and column not in table.column_names:
            raise DatasetError(f"{path} lacks the core column {column!r}")
    return table


def load_dataset(directory: str | os.PathLike, *, verify: bool = True) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Every split of a dataset plus its manifest (sha256-checked by default)."""
    manifest = read_manifest(directory)
    return {name: load_split(directory, name, verify=verify) for name in manifest["splits"]}, manifest
