"""Dataset directories on disk: one writer and one reader for every task.

A dataset directory (see ../shared/design.md) holds one file per split
(``train.parquet``, ``test_with_globals.parquet``, ... or ``.jsonl``), optional
side files such as ``globals.json``, and ``manifest.json``.

What a writer promises:

* *A directory is a complete dataset exactly when its manifest exists*: the
  manifest is written last, after every file it lists has been renamed into
  place and hashed.
* One writer at a time: :class:`DatasetWriter` holds the directory's
  exclusive lock (:func:`lolameme.atomic.exclusive_lock`) from before it looks
  at the directory until the manifest is written, so a second ``generate`` on
  the same ``--out`` fails at once instead of interleaving files.
* Every file is written under a temporary name unique to the process and the
  call, and renamed into place; an interrupted run leaves only hidden
  ``.NAME.PID.XXXX.tmp`` files, never a finished-looking one.

What a reader promises: :func:`verified_split` (used by ``load_split``, the
token cache, training, evaluation and analysis) checks a split file's sha256
and row count against the manifest before use. The check is remembered by the
file's size, modification time, change time and inode (see
:func:`verification_record_path`), so a large dataset is hashed once, not on
every call.

Records stream to disk in batches (Parquet row groups), so memory stays
bounded whatever the corpus size.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from lolameme.atomic import atomic_path, atomic_write_json, exclusive_lock
from lolameme.errors import DatasetError, EvalError

MANIFEST = "manifest.json"
FORMATS = ("parquet", "jsonl")
Format = Literal["parquet", "jsonl"]
CORE_COLUMNS = ("input", "label")
CACHE_ENV = "LOLAMEME_CACHE_DIR"  # caches derived from datasets go here when set (``--cache-dir``)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def os_reason(exc: OSError) -> str:
    """The short reason of an OS error ("Permission denied"), without errno and path."""
    return exc.strerror or str(exc)


# ---------------------------------------------------------------- the output lock

_held: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("held_dataset_locks", default=frozenset())


def check_output_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a Path, or a DatasetError for what can never be a dataset directory."""
    if not str(out_dir).strip():
        raise DatasetError("the output directory is an empty path; name a directory (e.g. --out data/base)")
    path = Path(out_dir)
    if path.is_symlink() and not path.exists():
        raise DatasetError(f"output directory {path} is a symbolic link that leads nowhere (dangling or a loop)")
    if path.exists() and not path.is_dir():
        raise DatasetError(f"output directory {path} exists and is not a directory")
    return path


@contextlib.contextmanager
def dataset_lock(directory: str | os.PathLike, *, wait: bool = False) -> Iterator[Path]:
    """Hold the exclusive lock of a dataset directory (created if missing) for the block.

    Re-entrant within one thread: the experiment runner holds it while it decides whether a
    shared dataset must be generated, and the :class:`DatasetWriter` it then calls takes it again.
    Without ``wait`` a second process gets :class:`~lolameme.atomic.OutputLockedError` at once.
    """
    path = check_output_dir(directory)
    key = os.path.abspath(path)
    if key in _held.get():
        yield path
        return
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(path, wait=wait))
        except OSError as exc:
            raise DatasetError(f"cannot write dataset directory {path}: {os_reason(exc)}; "
                               "choose a directory you can write") from None
        token = _held.set(_held.get() | {key})
        try:
            yield path
        finally:
            _held.reset(token)


# ---------------------------------------------------------------- writing


class SplitWriter:
    """Streams the records of one split into ``<name>.<format>`` via a temporary file.

    Batches are column dicts (``{"input": [...], "label": [...], ...}``); the
    first batch fixes the column order and types, later batches must match.
    """

    def __init__(self, directory: Path, name: str, fmt: Format):
        self.name = name
        self.fmt = fmt
        self.path = directory / f"{name}.{fmt}"
        self._rename = contextlib.ExitStack()
        self._tmp = self._rename.enter_context(atomic_path(self.path))
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
                self._jsonl.flush()
                os.fsync(self._jsonl.fileno())
                self._jsonl.close()
            self._rename.close()  # the rename into place
            self.closed = True
        return {"rows": self.rows, "file": self.path.name, "sha256": sha256_file(self.path)}

    def abort(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._jsonl is not None and not self._jsonl.closed:
            self._jsonl.close()
        self._rename.__exit__(DatasetError, DatasetError("aborted"), None)  # removes the temporary file
        self.closed = True


class DatasetWriter:
    """Writes one dataset directory; use as a context manager and call :meth:`finish`.

    >>> with DatasetWriter(out, fmt="parquet") as writer:   # doctest: +SKIP
    ...     train = writer.split("train"); train.write({"input": [...], "label": [...]})
    ...     writer.write_json("globals.json", {...})
    ...     writer.finish({"task": "lolameme", "config": {...}, "seed": 0})

    Holds the directory's lock (:func:`dataset_lock`) from construction to the
    end of the block. Refuses to touch an existing complete dataset unless
    ``overwrite``; with ``overwrite`` the old manifest is removed *first*, so
    the directory stops looking complete before any file changes. Leaving the
    block without :meth:`finish` (an error, Ctrl-C) removes the temporary files
    and writes no manifest.
    """

    def __init__(self, out_dir: str | os.PathLike, fmt: Format = "parquet", overwrite: bool = False):
        if fmt not in FORMATS:
            raise DatasetError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
        self.fmt = fmt
        self._lock = contextlib.ExitStack()
        self.out_dir = self._lock.enter_context(dataset_lock(out_dir))
        try:
            self._stale = _claim(self.out_dir, overwrite)
        except BaseException:
            self._lock.close()
            raise
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
        atomic_write_json(self.out_dir / filename, obj)
        self._side_files.append(filename)

    def finish(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Close every split, remove stale files of a replaced dataset, write the manifest last."""
        from lolameme import __version__

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
            full["files"] = {name: sha256_file(self.out_dir / name) for name in sorted(self._side_files)}
        _remember_verified(self.out_dir, splits.values())  # close() hashed each file after its rename
        write_manifest(self.out_dir, full)
        self.finished = True
        self._lock.close()
        return full

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.finished:
            for writer in self._splits.values():
                if not writer.closed:
                    writer.abort()
        self._lock.close()


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest.json``: the last file of a dataset, which makes it complete.

    The one place a manifest is written; what accompanies a finished dataset is
    written here, just before it: the dataset card (README.md).
    """
    from lolameme.data.card import write_card

    write_card(directory, dict(manifest))
    atomic_write_json(directory / MANIFEST, dict(manifest))


def _claim(directory: Path, overwrite: bool) -> set[str]:
    """Make the locked ``directory`` ready for a new dataset; return the files of the one it replaces."""
    manifest = directory / MANIFEST
    stale: set[str] = set()
    if manifest.exists():
        if not overwrite:
            raise DatasetError(f"{directory} already holds a complete dataset; pass overwrite (--overwrite) to replace it")
        stale = _listed_files(directory)
        manifest.unlink()
    for leftover in directory.glob(".*.tmp"):  # temporary files of killed writers (we hold the lock)
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
    return stale


def _listed_files(directory: Path) -> set[str]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return {e["file"] for e in manifest.get("splits", {}).values()} | set(manifest.get("files", []))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


# ---------------------------------------------------------------- caches beside a dataset


def user_cache_dir() -> Path:
    """The user's cache location for lolameme (``$XDG_CACHE_HOME/lolameme``, else ``~/.cache/lolameme``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lolameme"


def dataset_cache_dir(directory: str | os.PathLike) -> Path:
    """Where caches derived from a dataset live (token caches, verification records).

    ``$LOLAMEME_CACHE_DIR`` (set by ``--cache-dir``) when set; else ``DATA/.cache``
    when the dataset directory can be written; else :func:`user_cache_dir`, so a
    read-only dataset (a shared mount) is used without writing into it.
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    local = Path(directory) / ".cache"
    return local if _can_write(local) else user_cache_dir()


def _can_write(folder: Path) -> bool:
    try:
        folder.mkdir(exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


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
    except (OSError, ValueError, RecursionError) as exc:
        raise DatasetError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("splits"), dict) or "task" not in manifest:
        raise DatasetError(f"{path} lacks 'task' or 'splits'")
    for name, entry in manifest["splits"].items():
        if not isinstance(entry, dict) or not all(k in entry for k in ("file", "rows", "sha256")):
            raise DatasetError(f"{path}: split {name!r} needs 'file', 'rows' and 'sha256'")
    return manifest


def split_entry(directory: str | os.PathLike, manifest: Mapping[str, Any], split: str) -> dict[str, Any]:
    """The manifest entry of ``split``, or a DatasetError listing the splits there are."""
    entry = manifest["splits"].get(split)
    if entry is None:
        raise DatasetError(f"{directory} has no split {split!r}; it has: {', '.join(manifest['splits'])}")
    return entry


def verified_split(directory: str | os.PathLike, split: str) -> Path:
    """The file of ``split`` after checking its sha256 and row count against the manifest.

    Every reader of a split calls this (``load_split``, the token cache, training,
    evaluation, analysis), so an edited or corrupt file is refused with a
    DatasetError naming the split. A file already verified with the same size,
    modification time, change time and inode is not hashed again.
    """
    manifest = read_manifest(directory)
    entry = split_entry(directory, manifest, split)
    _verify_file(Path(directory), split, entry)
    return Path(directory) / entry["file"]


def verify_dataset(directory: str | os.PathLike) -> dict[str, Any]:
    """Verify every split (see :func:`verified_split`) and side file (``globals.json``) of a dataset.

    Returns its manifest. Side files are small, so they are simply hashed.
    """
    manifest = read_manifest(directory)
    for split in manifest["splits"]:
        _verify_file(Path(directory), split, manifest["splits"][split])
    side = manifest.get("files")
    for name, digest in (side.items() if isinstance(side, dict) else ()):
        path = Path(directory) / name
        if not path.is_file() or sha256_file(path) != digest:
            raise DatasetError(f"{path} is missing or does not match the sha256 in the manifest (edited or "
                               "corrupt); regenerate the dataset")
    return manifest


def verification_record_path(directory: str | os.PathLike) -> Path:
    """Where the verified (size, mtime, ctime, inode) -> sha256 stamps of a dataset are remembered."""
    key = hashlib.sha256(os.path.abspath(directory).encode("utf-8")).hexdigest()[:16]
    return dataset_cache_dir(directory) / "verified" / f"{key}.json"


def _verify_file(directory: Path, split: str, entry: Mapping[str, Any]) -> None:
    path = directory / str(entry["file"])
    try:
        stamp = _stamp(path, entry)
    except OSError as exc:
        raise DatasetError(f"split {split!r} of {directory}: {path.name} is listed in the manifest but "
                           f"cannot be read ({os_reason(exc)})") from None
    record_path = verification_record_path(directory)
    records = _read_records(record_path)
    if records.get(path.name) == stamp:
        return
    if sha256_file(path) != entry["sha256"]:
        raise DatasetError(f"split {split!r} of {directory}: {path.name} does not match the sha256 in the "
                           f"manifest (edited or corrupt); regenerate the dataset")
    rows = _count_rows(path)
    if rows != entry["rows"]:
        raise DatasetError(f"split {split!r} of {directory}: the manifest says {entry['rows']} rows but "
                           f"{path.name} holds {rows}; regenerate the dataset")
    records[path.name] = stamp
    _write_records(record_path, records)


def _stamp(path: Path, entry: Mapping[str, Any]) -> dict[str, Any]:
    """What a verification is remembered by: the file's identity and the manifest entry it matched."""
    st = path.stat()
    return {"stamp": [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino],
            "sha256": entry["sha256"], "rows": entry["rows"]}


def _remember_verified(directory: Path, entries: Iterable[Mapping[str, Any]]) -> None:
    record_path = verification_record_path(directory)
    records = _read_records(record_path)
    records.update({str(e["file"]): _stamp(directory / str(e["file"]), e) for e in entries})
    _write_records(record_path, records)


def _write_records(path: Path, records: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # only a memo: a cache that cannot be written means hashing again
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, records)


def _read_records(path: Path) -> dict[str, Any]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _count_rows(path: Path) -> int:
    try:
        if path.suffix == ".parquet":
            return pq.ParquetFile(path).metadata.num_rows
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None


def load_split(directory: str | os.PathLike, split: str, *, verify: bool = True,
               columns: Iterable[str] | None = None) -> pa.Table:
    """One split as a pyarrow Table (``input``, ``label`` and annotation columns).

    ``verify`` (the default) checks the file against the manifest first (:func:`verified_split`).
    """
    directory = Path(directory)
    if verify:
        path = verified_split(directory, split)
    else:
        path = directory / split_entry(directory, read_manifest(directory), split)["file"]
        if not path.exists():
            raise DatasetError(f"{path} is listed in the manifest but missing")
    cols = list(columns) if columns is not None else None
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path, columns=cols)
        else:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
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


def majority_answer(train_labels: Iterable[str]) -> str:
    """The most common training answer; ties go to the smallest string so the choice is reproducible."""
    counts = Counter(str(label) for label in train_labels)
    if not counts:
        raise EvalError("cannot compute the majority answer of an empty training split")
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
