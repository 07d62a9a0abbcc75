"""Pre-tokenised, memory-mapped token cache of one dataset split.

Tokenising a corpus costs more than a few epochs of a tiny model on it, and the
paper's operator-pretraining set (40M programs, ~4B tokens) does not fit in
memory. So each split is tokenised once per tokenizer and task format into
three flat files in the dataset's cache directory
(:func:`lolameme.data.io.dataset_cache_dir`: ``--cache-dir`` / ``$LOLAMEME_CACHE_DIR``
when given, else ``DATA/.cache`` when the dataset can be written, else the user cache)::

    CACHE/tokens-<split>-<key>/tokens.bin         all samples' ids, end to end (uint16 or uint32)
                                    /offsets.npy        int64 [N+1]: sample i is tokens[offsets[i]:offsets[i+1]]
                                    /answer_start.npy   int32 [N]: index of the first answer token in sample i
                                    /final_start.npy    int32 [N]: index of its final answer (after a trace);
                                                        absent in direct caches, where it is answer_start
                                    /meta.json

``key`` hashes the split file's sha256 (from the manifest, after the file was
verified against it: an edited split is refused before any cache is used), the tokenizer's
fingerprint, the answer format (:class:`~lolameme.train.format.AnswerFormat`: its
version, the answer-digit order, and for traces the variant and the share of rows
written as traces), so any change to one of them builds a new cache and a stale one
is never read; a direct cache's key is what it was before traces existed. Since the
key names the content, not the dataset, one cache directory can serve many datasets. The files are
opened with ``numpy.memmap``: only the pages of the samples in the current
batch are read. The split is read in Parquet record batches while building,
so building is bounded in memory too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lolameme.atomic import atomic_dir, atomic_write_json
from lolameme.data.io import dataset_cache_dir, load_split, os_reason, read_manifest, split_entry, verified_split
from lolameme.errors import DatasetError
from lolameme.tokenizers import Tokenizer
from lolameme.train.format import FORMAT_VERSION, AnswerFormat, TraceContext, assemble, ideal_trace, reverse_digits, trace_context

_READ_ROWS = 8192


class TokenCache:
    """Random access to the token ids of every sample of one split (memory-mapped)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        meta = json.loads((self.directory / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.offsets = np.load(self.directory / "offsets.npy", mmap_mode="r")
        self.answer_start = np.load(self.directory / "answer_start.npy", mmap_mode="r")
        final = self.directory / "final_start.npy"
        self.final_start = np.load(final, mmap_mode="r") if final.is_file() else self.answer_start
        self.answer_weights = (1.0, 1.0)  # loss weights of trace and final-answer tokens; the trainer sets them
        n_tokens = int(self.offsets[-1])
        dtype = np.dtype(meta["dtype"])
        # np.memmap refuses empty files; an empty split simply has no tokens
        self.tokens = np.memmap(self.directory / "tokens.bin", dtype=dtype, mode="r") if n_tokens else np.zeros(0, dtype)
        self.lengths = np.diff(self.offsets).astype(np.int64)

    def __len__(self) -> int:
        return len(self.lengths)

    def sample(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[self.offsets[i] : self.offsets[i + 1]])


def cache_key(split_sha256: str, tok: Tokenizer, reverse_answer: bool, fmt: AnswerFormat | None = None,
              trace_share: float = 1.0, share_seed: int = 0) -> str:
    fmt = fmt or AnswerFormat(reverse_answer=reverse_answer)
    text = f"{split_sha256}|{tok.fingerprint}|{fmt.key()}"
    if fmt.is_trace and trace_share < 1:
        text += f"|share-{trace_share!r}-seed-{share_seed}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def token_cache(data_dir: str | Path, split: str, tok: Tokenizer, *, reverse_answer: bool = False,
                fmt: AnswerFormat | None = None, trace_share: float = 1.0, share_seed: int = 0,
                cache_dir: str | Path | None = None) -> TokenCache:
    """The token cache of ``split`` of the dataset in ``data_dir``, built on first use.

    ``fmt`` (default: direct with ``reverse_answer``) is the answer format; a trace format writes a seeded
    ``trace_share`` of the rows as traces (drawn from ``share_seed``) and the rest direct. The split is
    verified against its manifest first; ``cache_dir`` overrides :func:`~lolameme.data.io.dataset_cache_dir`.
    """
    fmt = fmt or AnswerFormat(reverse_answer=reverse_answer)
    data_dir = Path(data_dir)
    verified_split(data_dir, split)
    manifest = read_manifest(data_dir)
    entry = split_entry(data_dir, manifest, split)
    key = cache_key(entry["sha256"], tok, fmt.reverse_answer, fmt, trace_share, share_seed)
    final = Path(cache_dir or dataset_cache_dir(data_dir)) / f"tokens-{split}-{key}"
    if (final / "meta.json").is_file():
        return TokenCache(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with atomic_dir(final) as tmp:
            ctx = trace_context(data_dir, manifest) if fmt.is_trace else None
            _build(data_dir, split, entry, tok, _Writer(fmt, ctx, trace_share, share_seed), tmp)
            meta = json.loads((tmp / "meta.json").read_text(encoding="utf-8"))
            meta.update({"split": split, "split_sha256": entry["sha256"], "tokenizer": tok.name, "key": key})
            atomic_write_json(tmp / "meta.json", meta)
    except OSError as exc:
        if (final / "meta.json").is_file():
            return TokenCache(final)  # another process finished the same cache first; theirs is identical
        raise DatasetError(f"cannot write the token cache in {final.parent}: {os_reason(exc)}; "
                           "pass --cache-dir DIR (or set LOLAMEME_CACHE_DIR) to put it elsewhere") from None
    return TokenCache(final)


def _record_batches(data_dir: Path, split: str, entry: dict) -> Iterator[pa.RecordBatch]:
    path = data_dir / entry["file"]
    if path.suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
            missing = [c for c in ("input", "label") if c not in parquet.schema_arrow.names]
            if missing:
                raise DatasetError(f"{path} lacks the core column(s) {missing}")
            yield from parquet.iter_batches(batch_size=_READ_ROWS, columns=["input", "label"])
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(f"cannot read {path}: {exc}") from exc
    else:  # JSON lines are small by nature; the dataset layer reads them whole
        table = load_split(data_dir, split, columns=["input", "label"], verify=False)  # verified by the caller
        yield from table.to_batches(max_chunksize=_READ_ROWS)


class _Writer:
    """Writes each row in its format: direct, or (a seeded share of the rows) as a trace."""

    def __init__(self, fmt: AnswerFormat, ctx: TraceContext | None, share: float, seed: int) -> None:
        self.fmt, self.ctx, self.share = fmt, ctx, share
        self.rng = np.random.default_rng([seed, 0x7ACE])  # the draws of consecutive batches continue one stream

    def rows(self, tok: Tokenizer, programs: list[str], labels: list[str]) -> list[tuple[list[int], int, int]]:
        """(ids, answer_start, final_start) of each row."""
        fmt = self.fmt
        as_trace = self.rng.random(len(programs)) < self.share if fmt.is_trace else np.zeros(len(programs), bool)
        texts = [reverse_digits(x) if fmt.reverse_answer else x for x in labels]
        heads = [""] * len(programs)
        for i in np.flatnonzero(as_trace):
            target = ideal_trace(programs[i], labels[i], self.ctx, fmt)
            heads[i], texts[i] = self.ctx.layout.render(target)
        opener = tok.encode(self.ctx.layout.opener) if fmt.is_trace else []
        out = []
        for trace, p_ids, h_ids, l_ids in zip(as_trace, tok.encode_batch(programs), tok.encode_batch(heads),
                                             tok.encode_batch(texts)):
            if not trace:
                ids, start = assemble(tok, p_ids, l_ids)
                out.append((ids, start, start))
                continue
            prompt = [tok.bos_id, *opener, *p_ids, tok.sep_id]
            out.append(([*prompt, *h_ids, *l_ids, tok.eos_id], len(prompt), len(prompt) + len(h_ids)))
        return out


def _build(data_dir: Path, split: str, entry: dict, tok: Tokenizer, writer: _Writer, out: Path) -> None:
    dtype = np.uint16 if tok.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
    lengths: list[np.ndarray] = []  # per record batch, so memory stays ~12 bytes per sample
    answer_starts: list[np.ndarray] = []
    final_starts: list[np.ndarray] = []
    with open(out / "tokens.bin", "wb") as handle:
        for batch in _record_batches(data_dir, split, entry):
            programs = batch.column("input").to_pylist()
            labels = [str(x) for x in batch.column("label").to_pylist()]
            rows = writer.rows(tok, programs, labels)
            np.asarray([i for ids, _, _ in rows for i in ids], dtype=dtype).tofile(handle)
            lengths.append(np.asarray([len(ids) for ids, _, _ in rows], dtype=np.int64))
            answer_starts.append(np.asarray([start for _, start, _ in rows], dtype=np.int32))
            final_starts.append(np.asarray([final for _, _, final in rows], dtype=np.int32))
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    offsets = np.zeros(len(all_lengths) + 1, dtype=np.int64)
    np.cumsum(all_lengths, out=offsets[1:])
    np.save(out / "offsets.npy", offsets)
    np.save(out / "answer_start.npy", np.concatenate(answer_starts) if answer_starts else np.zeros(0, np.int32))
    fmt = writer.fmt
    if fmt.is_trace:
        np.save(out / "final_start.npy", np.concatenate(final_starts) if final_starts else np.zeros(0, np.int32))
    meta = {"rows": len(all_lengths), "tokens": int(offsets[-1]), "dtype": np.dtype(dtype).name,
            "reverse_answer": fmt.reverse_answer, "format_version": FORMAT_VERSION, "format": fmt.key()}
    if fmt.is_trace:
        meta.update(answer_format=fmt.kind, trace_statements=fmt.statements, trace_share=writer.share)
    atomic_write_json(out / "meta.json", meta)
