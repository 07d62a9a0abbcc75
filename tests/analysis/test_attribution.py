"""Attention attribution on a model whose head is known to look exactly OFFSET tokens back."""

from __future__ import annotations

import numpy as np
import torch

from lolameme.analysis.annotate import ROLE, ROLES
from lolameme.analysis.attribution import GROUPS, attribution_table, per_row_attention
from lolameme.analysis.batching import batches

from analysis_helpers import OFFSET, attention_copier


def test_copier_answers_with_the_token_offset_back(char_tok, copy_samples):
    model = attention_copier(char_tok)
    batch = next(batches(copy_samples, char_tok.pad_id, 64))
    with torch.no_grad():
        predicted = model(batch.ids).argmax(-1)
    rows = torch.arange(len(batch.rows))
    assert torch.equal(predicted[rows, batch.sep], batch.ids[rows, batch.sep - OFFSET])


def test_attribution_puts_the_answer_attention_on_the_defining_statement(char_tok, copy_samples):
    # From <sep> the head reads the defining literal; from the answer digit, the defining ';'.
    per_layer, uniform = per_row_attention(attention_copier(char_tok), copy_samples, char_tok.pad_id, 16)
    defining = per_layer[0][:, 0, ROLE["defining"]]
    assert defining.min() >= 0.95
    assert per_layer[0][:, 0, GROUPS.index("defining value")].min() >= 0.95   # the literal and its ';'
    assert per_layer[0][:, 0, GROUPS.index("defining name")].max() < 0.05
    assert np.allclose(per_layer[0][..., :len(ROLES)].sum(-1), 1.0, atol=1e-4)   # the roles cover every key
    assert uniform[:, ROLE["defining"]].max() < 0.3                     # far above attending evenly
    table = attribution_table(attention_copier(char_tok), copy_samples, char_tok.pad_id, 16).to_pandas()
    row = table[(table.hops == "all") & (table.role == "defining")]
    assert len(row) == 1 and row.attention.iloc[0] >= 0.95
    assert set(table.role) == set(GROUPS)


def test_attribution_skips_models_without_attention(char_tok, copy_samples):
    from analysis_helpers import PositionCopier

    assert attribution_table(PositionCopier(char_tok), copy_samples, char_tok.pad_id, 16) is None
