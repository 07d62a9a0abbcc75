"""Token cache, length bucketing, over-length filtering/truncation and stage filters."""

from __future__ import annotations

import numpy as np
import pytest

from lolameme.data.io import load_split
from lolameme.errors import ConfigError, DatasetError
from lolameme.tokenizers import get_tokenizer
from lolameme.train.batching import collate, epoch_batches, padding_counts, select_samples
from lolameme.train.cache import token_cache
from lolameme.train.data import rows_matching, split_validation
from lolameme.train.format import encode_sample


def test_cache_holds_exactly_the_encoded_samples(dataset) -> None:
    tok = get_tokenizer("char")
    cache = token_cache(dataset, "train", tok, reverse_answer=True)
    table = load_split(dataset, "train")
    assert len(cache) == table.num_rows
    for i, (program, label) in enumerate(zip(table.column("input").to_pylist(), table.column("label").to_pylist())):
        ids, start = encode_sample(tok, program, label, reverse_answer=True)
        assert cache.sample(i).tolist() == ids
        assert int(cache.answer_start[i]) == start
    assert isinstance(cache.tokens, np.memmap)


def test_cache_is_reused_and_keyed_by_tokenizer_and_format(dataset) -> None:
    char = get_tokenizer("char")
    first = token_cache(dataset, "train", char)
    again = token_cache(dataset, "train", char)
    assert again.directory == first.directory
    assert token_cache(dataset, "train", char, reverse_answer=True).directory != first.directory
    assert token_cache(dataset, "train", get_tokenizer("gpt2")).directory != first.directory
    assert first.directory.parent == dataset / ".cache"


def test_length_bucketing_groups_similar_lengths_and_covers_every_sample() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 200, size=640)
    batches = epoch_batches(lengths, batch_size=16, bucket_batches=10, seed=3, epoch=0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(640))
    bucketed = padding_counts([lengths[b] for b in batches])
    shuffled = padding_counts([lengths[b] for b in np.split(rng.permutation(640), 40)])
    assert bucketed[0] / bucketed[1] < 0.25 * shuffled[0] / shuffled[1]
    # a pure function of (seed, epoch): resumable from two integers
    again = epoch_batches(lengths, batch_size=16, bucket_batches=10, seed=3, epoch=0)
    assert all((a == b).all() for a, b in zip(batches, again))
    other = epoch_batches(lengths, batch_size=16, bucket_batches=10, seed=3, epoch=1)
    assert any((a != b).any() for a, b in zip(batches, other))


def test_last_batch_is_filled_up() -> None:
    batches = epoch_batches(np.arange(10) + 5, batch_size=4, bucket_batches=2, seed=0, epoch=0)
    assert [len(b) for b in batches] == [4, 4, 4]
    assert set(np.concatenate(batches).tolist()) == set(range(10))


def test_overlength_filter_truncate_and_error_counts(dataset) -> None:
    tok = get_tokenizer("char")
    cache = token_cache(dataset, "train", tok)
    rows = np.arange(len(cache))
    max_len = int(np.median(cache.lengths))
    n_long = int((cache.lengths > max_len).sum())
    assert n_long > 0

    kept, counts = select_samples(cache, rows, max_len=max_len, overlength="filter", sep_id=tok.sep_id)
    assert counts == {"overlength": n_long, "dropped": n_long, "truncated": 0}
    assert len(kept) == len(rows) - n_long and (kept.lengths <= max_len).all()

    cut, counts = select_samples(cache, rows, max_len=max_len, overlength="truncate", sep_id=tok.sep_id)
    assert counts["overlength"] == n_long and counts["truncated"] + counts["dropped"] == n_long
    for position in range(len(cut)):
        ids, start = cut.sample(position)
        full = cache.sample(int(cut.rows[position]))
        assert len(ids) <= max_len and ids[0] == tok.bos_id and ids[start - 1] == tok.sep_id
        assert ids[start:].tolist() == full[int(cache.answer_start[cut.rows[position]]) :].tolist()  # answer intact
        assert start == cut.answer_starts[position]

    with pytest.raises(DatasetError, match=f"{n_long} of {len(rows)} samples"):
        select_samples(cache, rows, max_len=max_len, overlength="error", sep_id=tok.sep_id)


def test_validation_slice_is_seeded_and_disjoint() -> None:
    train, val = split_validation(100, 10, seed=1)
    assert len(val) == 10 and len(train) == 90 and not set(train) & set(val)
    assert (split_validation(100, 10, seed=1)[1] == val).all()
    assert (split_validation(100, 10, seed=2)[1] != val).any()
    with pytest.raises(ConfigError, match="val_samples"):
        split_validation(10, 10, seed=0)


def test_stage_filter_on_annotation_columns(dataset) -> None:
    n_statements = np.asarray(load_split(dataset, "train", columns=["n_statements"]).column("n_statements"))
    assert (rows_matching(dataset, {"n_statements": 1}) == np.flatnonzero(n_statements == 1)).all()
    assert (rows_matching(dataset, {"n_statements": [1, 3]}) == np.flatnonzero(n_statements != 2)).all()
    assert (rows_matching(dataset, {"n_statements": {"min": 2}}) == np.flatnonzero(n_statements >= 2)).all()
    assert rows_matching(dataset, {}) is None
    with pytest.raises(ConfigError, match="hops"):
        rows_matching(dataset, {"hops": 1})


def test_collate_pads_to_the_longest_sample() -> None:
    samples = [(np.array([1, 5, 6, 2, 7, 3]), 4), (np.array([1, 5, 2, 7, 8, 3]), 3), (np.array([1, 2, 9, 3]), 2)]
    batch = collate(samples, pad_id=0)
    assert batch.inputs.shape == (3, 5)
    assert batch.n_tokens == 5 + 5 + 3
