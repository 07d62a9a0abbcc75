"""The trace answer format: layout, round trip against the tracer on every preset, scoring that never raises."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lolameme.data.api import generate_dataset
from lolameme.data.io import load_split
from lolameme.data.presets import list_presets
from lolameme.lang import trace
from lolameme.lang.semantics import read_global
from lolameme.tokenizers import fit_words_tokenizer, get_tokenizer
from lolameme.train.batching import collate, select_samples
from lolameme.train.cache import cache_key, token_cache
from lolameme.train.format import (LAYOUTS, AnswerFormat, TraceTarget, encode, ideal_trace, read_trace,
                                   read_trace_ids, reverse_digits, trace_context)
from lolameme.train.loss import StepTotals, step_loss

SMALL = {"dataset_size": 40, "test_dataset_size": 5, "global_var_count": 8, "global_variables_num_appearance": 0}
SMALL_LISTOPS = {"num_train_samples": 40, "num_valid_samples": 5, "num_test_samples": 5, "min_length": 20,
                 "max_length": 120, "max_depth": 4}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, tuple[Path, list[str], list[str]]]:
    """A few programs of every preset of a task with a trace (LOLAMEME, ListOps): preset -> (dir, inputs, labels)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few programs per global: expected here
        for name in [p.name for p in list_presets() if p.task in LAYOUTS]:
            directory = tmp_path_factory.mktemp(name)
            manifest = generate_dataset(name, directory, overrides=SMALL_LISTOPS if "listops" in name else SMALL,
                                        overwrite=True)
            table = load_split(directory, "train")
            out[name] = (directory, table.column("input").to_pylist(), [str(x) for x in table.column("label").to_pylist()])
            assert manifest["task"] in LAYOUTS
    return out


@pytest.fixture(scope="module")
def tokenizers(corpora):
    words = fit_words_tokenizer([x for name, (_, inputs, _) in corpora.items() if "listops" not in name for x in inputs])
    return {"char": get_tokenizer("char"), "words": words, "listops": get_tokenizer("listops")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), reverse=st.booleans(), relevant=st.booleans())
def test_ideal_output_decodes_to_the_label_and_the_tracers_values(corpora, tokenizers, data, reverse, relevant):
    preset = data.draw(st.sampled_from(sorted(corpora)))
    directory, inputs, labels = corpora[preset]
    row = data.draw(st.integers(0, len(inputs) - 1))
    program, label = inputs[row], labels[row]
    ctx = trace_context(directory)
    listops = ctx.task == "listops"
    tok = tokenizers[data.draw(st.sampled_from(["char", "listops"] if listops else ["char", "words"]))]
    fmt = AnswerFormat("trace", "relevant" if relevant else "all", reverse)

    sample = encode(tok, program, label, fmt, ctx)
    assert sample.ids[0] == tok.bos_id and sample.ids[sample.answer_start - 1] == tok.sep_id
    assert sample.ids[-1] == tok.eos_id and sample.answer_start < sample.final_start < len(sample.ids)
    target = ideal_trace(program, label, ctx, fmt)
    reading = read_trace_ids(tok, sample.ids[sample.answer_start:-1], target, ctx.layout, fmt)
    assert reading.answer == label and reading.well_formed and all(reading.fields_right)
    assert reading.consistent in (True, None)
    assert tok.decode(sample.ids[sample.final_start:-1]) == (reverse_digits(label) if reverse else label)

    fields = ctx.layout.parse(tok.decode(sample.ids[sample.answer_start:-1]))[0]
    written = [[reverse_digits(v) if reverse else v for v in f.split(ctx.layout.item_sep)] for f in fields]
    if listops:
        from lolameme.data.listops.rules import analyze

        assert [int(f[-1]) for f in written] == list(analyze(program).list_values)
        return
    run = trace(program, ctx.globals, ctx.latent)
    statements = [s for s in run.statements if s.relevant or not relevant]
    assert [int(f[-1]) for f in written] == [s.value for s in statements]
    assert [[int(v) for v in f[:-1]] for f in written] == [
        [read_global(g, ctx.globals) for g in s.global_reads] for s in statements]
    assert list(target.positions) == [s.number for s in statements]


TARGET = TraceTarget(fields=("35", "12,47", "3"), positions=(1, 2, 3), printed_field=1, answer="47")


@pytest.mark.parametrize("text, answer, right, well_formed, consistent", [
    ("35;12,47;3>47", "47", (True, True, True), True, True),
    ("35;12,47;3>48", "48", (True, True, True), True, False),  # final answer disagrees with its own trace
    ("35;12,46;3>46", "46", (True, False, True), True, True),  # wrong, but consistent
    ("35;12,47;3;9>47", "47", (True, True, True), False, True),  # a field too many
    ("35;12,47", "", (False, False, False), False, False),  # no marker
    ("x;;>", "", (False, False, False), True, False),  # non-numbers
    ("", "", (False, False, False), False, False),
])
def test_trace_reading_on_hand_outputs(text, answer, right, well_formed, consistent):
    reading = read_trace(text, TARGET, LAYOUTS["lolameme"], AnswerFormat("trace"))
    assert (reading.answer, reading.fields_right, reading.well_formed, reading.consistent) == (
        answer, right, well_formed, consistent)


def test_runaway_output_is_wrong():
    reading = read_trace("35;12,47;3>47", TARGET, LAYOUTS["lolameme"], AnswerFormat("trace"), finished=False)
    assert reading.answer == "" and not any(reading.fields_right) and not reading.well_formed


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.integers(0, 200), max_size=60), finished=st.booleans(), reverse=st.booleans(),
       listops=st.booleans())
def test_random_tokens_never_raise(ids, finished, reverse, listops):
    tok = get_tokenizer("listops" if listops else "char")
    layout = LAYOUTS["listops" if listops else "lolameme"]
    reading = read_trace_ids(tok, ids, TARGET, layout, AnswerFormat("trace", reverse_answer=reverse), finished=finished)
    assert len(reading.fields_right) == len(TARGET.fields)
    assert isinstance(reading.answer, str)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="0123456789-;,> x]", max_size=40))
def test_random_text_never_raises(text):
    for layout in LAYOUTS.values():
        read_trace(text, TARGET, layout, AnswerFormat("trace", reverse_answer=True))


def test_direct_cache_key_is_unchanged() -> None:
    tok = get_tokenizer("char")
    for reverse in (False, True):
        old = hashlib.sha256(f"abc|{tok.fingerprint}|format-1|reverse-{int(reverse)}".encode()).hexdigest()[:16]
        assert cache_key("abc", tok, reverse) == old
        assert cache_key("abc", tok, reverse, AnswerFormat("trace", reverse_answer=reverse)) != old
    keys = {cache_key("abc", tok, False, AnswerFormat("trace", s), share) for s in ("all", "relevant") for share in (1, 0.5)}
    assert len(keys) == 4


def test_trace_cache_and_share(corpora) -> None:
    directory, inputs, labels = corpora["base"]
    tok, ctx = get_tokenizer("char"), trace_context(directory)
    fmt = AnswerFormat("trace", reverse_answer=True)
    cache = token_cache(directory, "train", tok, fmt=fmt)
    for i, (x, y) in enumerate(zip(inputs, labels)):
        sample = encode(tok, x, y, fmt, ctx)
        assert cache.sample(i).tolist() == sample.ids
        assert (cache.answer_start[i], cache.final_start[i]) == (sample.answer_start, sample.final_start)
    mixed = token_cache(directory, "train", tok, fmt=fmt, trace_share=0.5, share_seed=3)
    traced = np.asarray(mixed.final_start) > np.asarray(mixed.answer_start)
    assert 0 < traced.sum() < len(inputs)
    direct = token_cache(directory, "train", tok, reverse_answer=True)
    for i in np.flatnonzero(~traced):
        assert mixed.sample(i).tolist() == direct.sample(i).tolist()
    assert not (direct.directory / "final_start.npy").exists()


def test_trace_and_final_weights_in_the_loss(corpora) -> None:
    directory, inputs, _ = corpora["base"]
    cache = token_cache(directory, "train", get_tokenizer("char"), fmt=AnswerFormat("trace"))
    cache.answer_weights = (0.5, 2.0)
    samples, _ = select_samples(cache, np.arange(len(inputs)), max_len=10_000, overlength="filter", sep_id=0)
    ids, start, weights = samples.sample(0)
    final = int(samples.final_starts[0])
    assert start < final < len(ids)
    assert weights[:start].tolist() == [1.0] * start
    assert weights[start:final].tolist() == [0.5] * (final - start)
    assert weights[final:].tolist() == [2.0] * (len(ids) - final)
    batch = collate([samples.sample(0)], 0)
    ce = torch.ones(batch.targets.shape)
    totals = StepTotals(n_answer=int(batch.answer_mask.sum()), n_program=int(batch.program_mask.sum()))
    n_trace, n_final = final - start, len(ids) - final
    assert step_loss(ce, batch, totals, "answer").item() == pytest.approx(
        (0.5 * n_trace + 2.0 * n_final) / (n_trace + n_final))
    cache.answer_weights = (1.0, 1.0)
    assert len(samples.sample(0)) == 2  # no weights: every token counts 1
