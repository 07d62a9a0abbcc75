"""Causal patching on a model whose answer depends on one known position."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_helpers import PositionCopier

from lolameme.analysis.patching import GROUPS, PairContext, make_pairs, patch_probabilities, patching_table


@pytest.fixture
def pairs(char_tok, copy_samples):
    return make_pairs(copy_samples, PairContext(char_tok, None, None), seed=0, max_pairs=20)


def test_pairs_differ_in_one_literal_and_change_the_answer_only_on_the_chain(pairs):
    assert len(pairs["chain"]) == 20 and len(pairs["noise"]) == 20 and pairs["global"] == []
    for pair in pairs["chain"] + pairs["noise"]:
        clean = pair.clean.ids
        assert len(pair.corrupt_ids) == len(clean) and len(pair.changed) == 1
        assert np.nonzero(pair.corrupt_ids != clean)[0].tolist() == list(pair.changed)
    # the chain literal is the defining statement's ('c = z'); noise literals are a's or b's
    assert all(p.clean.program[:p.changed[0] - 1].count(";") == 2 for p in pairs["chain"])
    assert all(p.clean.program[:p.changed[0] - 1].count(";") < 2 for p in pairs["noise"])


def test_patching_localises_the_position_and_the_layer(char_tok, pairs):
    model = PositionCopier(char_tok)
    clean, corrupt, patched, present = patch_probabilities(model, pairs["chain"], char_tok.pad_id, 7)
    assert clean.min() > 0.99 and corrupt.max() < 0.01
    share = (patched - corrupt[:, None, None]) / (clean - corrupt)[:, None, None]
    changed, sep = GROUPS.index("changed"), GROUPS.index("sep")
    # stream 0: the information is only at the literal; after the copying layer only at <sep>
    assert share[:, 0, changed].min() > 0.99
    assert share[:, 1, sep].min() > 0.99 and share[:, 2, sep].min() > 0.99
    others = [g for g in range(len(GROUPS)) if g != changed]
    assert np.nanmax(np.abs(share[:, 0, others])) < 0.01
    assert np.nanmax(np.abs(share[:, 1:, changed])) < 0.01
    assert present[:, GROUPS.index("noise")].all()
    assert np.nanmax(np.abs(share[:, :, GROUPS.index("noise")])) < 0.01


def test_a_noise_literal_changes_nothing(char_tok, pairs):
    table = patching_table(PositionCopier(char_tok), pairs, char_tok.pad_id, 16).to_pandas()
    noise = table[table.kind == "noise"]
    assert noise.total.abs().max() < 1e-6 and noise.carried.abs().max() < 1e-6
    assert noise.share.isna().all()                       # no effect, so no share to speak of
    chain = table[(table.kind == "chain") & (table.group == "changed")].set_index("stream")
    assert chain.share[0] > 0.99 and abs(chain.share[1]) < 0.01


def test_global_pairs_swap_a_global_read_on_the_chain(char_tok):
    from lolameme.analysis.annotate import annotate

    table = {"gv": 3, "hh": 5, "kk": 8, "longname": 9}
    texts = [f"a = {g};b = {k};c = (a + 1);print(c)" for g, k in (("gv", "hh"), ("hh", "kk"), ("kk", "gv"))]
    labels = [str(table[t[4:6]] + 1) for t in texts]
    samples = annotate(char_tok, texts, labels, reverse_answer=False, globals_table=table, latent=None)
    pairs = make_pairs(samples, PairContext(char_tok, table, None), seed=0, max_pairs=10)["global"]
    assert len(pairs) == 3
    for pair in pairs:
        start = pair.clean.program.index("=") + 2
        assert list(pair.changed) == [start + 1, start + 2]          # the name read in statement 1 (+1 for <bos>)
        assert pair.clean.program[start:start + 2] in table
