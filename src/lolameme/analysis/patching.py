"""Causal patching (activation patching, causal tracing: Vig et al. 2020, Meng et al. 2022).

A pair is a *clean* program and a *corrupt* one that differs from it in one place, with the same
number of tokens. Three kinds:

* ``chain``: a literal on the printed value's dependency chain is changed (same number of digits),
  so the answer changes;
* ``noise``: a literal in a noise statement is changed; the answer stays the same (the control);
* ``global``: a global read on the chain is replaced by another global with another value.

Both programs are scored on the *clean* answer (teacher-forced, its tokens and ``<eos>``). The total
effect of a pair is P(clean answer | clean) - P(clean answer | corrupt). Then the corrupt run is
repeated with the residual stream at one depth (stream) and one position group copied from the clean
run; what that patch restores, P(patched) - P(corrupt), is the part of the effect it carries. Position
groups are the token roles of :mod:`lolameme.analysis.annotate`, plus ``changed``: the changed
tokens themselves. This needs only the residual stream, so it works for every model family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from lolameme.analysis.annotate import ROLE, Sample, Span
from lolameme.analysis.batching import answer_logprob, make_batch
from lolameme.analysis.hooks import model_layers, patched_logits, residual_streams
from lolameme.analysis.tables import Rows
from lolameme.errors import LolamemeError
from lolameme.train.batching import length_sorted_batches
from lolameme.lang import LatentRules, trace
from lolameme.tokenizers import Tokenizer
from lolameme.train.format import prompt_ids

KINDS = ("chain", "noise", "global")
GROUPS = ("changed", "defining", "chain", "noise", "print", "sep", "answer")
ATTEMPTS = 8  # replacement draws per program before it is left out of a kind
MIN_EFFECT = 0.01  # a kind whose mean total effect is below this has no meaningful share


@dataclass
class Pair:
    kind: str
    clean: Sample
    corrupt_ids: np.ndarray      # the corrupt prompt followed by the clean answer and <eos>
    changed: tuple[int, ...]     # positions where the prompts differ


@dataclass
class PairContext:
    """What building a corrupt program needs: the tokenizer and the dataset's rules."""

    tok: Tokenizer
    globals_table: Mapping[str, int] | None
    latent: LatentRules | None


def make_pairs(samples: Sequence[Sample], context: PairContext, *, seed: int, max_pairs: int
               ) -> dict[str, list[Pair]]:
    """Up to ``max_pairs`` pairs of each kind, at most one per program and kind, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    global_names = sorted(context.globals_table) if context.globals_table else []
    pairs: dict[str, list[Pair]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        for sample in samples:
            if len(pairs[kind]) >= max_pairs:
                break
            pair = _pair(kind, sample, context, rng, global_names)
            if pair is not None:
                pairs[kind].append(pair)
    return pairs


def _candidates(kind: str, sample: Sample) -> list[Span]:
    if kind == "global":
        return [span for span in sample.global_reads if span.relevant]
    return [span for span in sample.literals if span.relevant == (kind == "chain")]


def _pair(kind: str, sample: Sample, context: PairContext, rng: np.random.Generator,
          global_names: list[str]) -> Pair | None:
    spans = _candidates(kind, sample)
    if not spans or (kind == "global" and len(global_names) < 2):
        return None
    span = spans[int(rng.integers(len(spans)))]
    old = sample.program[span.char_start:span.char_end]
    clean_prompt = sample.ids[:sample.answer_start]
    for _ in range(ATTEMPTS):
        new = global_names[int(rng.integers(len(global_names)))] if kind == "global" else _literal_like(old, rng)
        if new == old:
            continue
        program = sample.program[:span.char_start] + new + sample.program[span.char_end:]
        try:
            label = str(trace(program, context.globals_table, context.latent).output)
            prompt = np.asarray(prompt_ids(context.tok, program))
        except LolamemeError:
            continue
        if (label == sample.label) != (kind == "noise") or len(prompt) != len(clean_prompt):
            continue
        changed = tuple(int(p) for p in np.nonzero(prompt != clean_prompt)[0])
        if not changed or not set(changed) <= set(span.positions):
            continue
        return Pair(kind, sample, np.concatenate([prompt, sample.ids[sample.answer_start:]]), changed)
    return None


def _literal_like(old: str, rng: np.random.Generator) -> str:
    """Another literal with as many digits (so it tokenizes to as many tokens)."""
    low = 0 if len(old) == 1 else 10 ** (len(old) - 1)
    return str(int(rng.integers(low, 10 ** len(old))))


def group_masks(pairs: Sequence[Pair], width: int) -> torch.Tensor:
    """[P, G, T] bool: the positions of each group of :data:`GROUPS` in each pair (changed ones apart)."""
    masks = torch.zeros(len(pairs), len(GROUPS), width, dtype=torch.bool)
    for p, pair in enumerate(pairs):
        role = torch.as_tensor(pair.clean.role, dtype=torch.long)
        changed = torch.zeros(len(role), dtype=torch.bool)
        changed[list(pair.changed)] = True
        masks[p, 0, :len(role)] = changed
        for g, name in enumerate(GROUPS[1:], start=1):
            masks[p, g, :len(role)] = (role == ROLE[name]) & ~changed
    return masks


def patch_probabilities(model: nn.Module, pairs: Sequence[Pair], pad_id: int, batch_size: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P(clean answer) clean [P], corrupt [P], patched [P, S, G] (NaN for empty groups), and masks [P, G]."""
    n_streams = len(model_layers(model)) + 1
    clean_p, corrupt_p = np.zeros(len(pairs)), np.zeros(len(pairs))
    patched = np.full((len(pairs), n_streams, len(GROUPS)), np.nan)
    present = np.zeros((len(pairs), len(GROUPS)), dtype=bool)
    samples = [pair.clean for pair in pairs]
    for rows in length_sorted_batches([len(s.ids) for s in samples], batch_size):
        clean = make_batch(samples, rows, pad_id)
        corrupt_ids = make_batch(samples, rows, pad_id, ids=[pairs[r].corrupt_ids for r in rows]).ids
        queries = clean.answer_queries()
        logits, streams = residual_streams(model, clean.ids)
        clean_p[rows] = answer_logprob(logits, clean.ids, queries).exp().numpy()
        with torch.inference_mode():
            corrupt_p[rows] = answer_logprob(model(corrupt_ids), corrupt_ids, queries).exp().numpy()
        masks = group_masks([pairs[r] for r in rows], clean.ids.shape[1])          # [B, G, T]
        which = masks.any(-1).nonzero()                                            # (row, group) to run
        present[np.asarray(rows)[which[:, 0].numpy()], which[:, 1].numpy()] = True
        for stream in range(n_streams):
            for start in range(0, len(which), batch_size):
                part = which[start:start + batch_size]
                b, g = part[:, 0], part[:, 1]
                out = patched_logits(model, corrupt_ids[b], stream, masks[b, g], streams[stream][b])
                prob = answer_logprob(out, corrupt_ids[b], queries[b]).exp().numpy()
                patched[np.asarray(rows)[b.numpy()], stream, g.numpy()] = prob
    return clean_p, corrupt_p, patched, present


def patching_table(model: nn.Module, pairs: Mapping[str, Sequence[Pair]], pad_id: int, batch_size: int
                   ) -> pa.Table:
    """Long table: kind, stream, group, pairs, total, carried, share (pooled over pairs), p_clean, p_corrupt."""
    out = Rows("kind", "stream", "group", "pairs", "total", "carried", "share", "p_clean", "p_corrupt")
    for kind, kind_pairs in pairs.items():
        if not kind_pairs:
            continue
        clean, corrupt, patched, present = patch_probabilities(model, kind_pairs, pad_id, batch_size)
        total = clean - corrupt
        for stream in range(patched.shape[1]):
            for g, group in enumerate(GROUPS):
                rows = present[:, g]
                if not rows.any():
                    continue
                carried = patched[rows, stream, g] - corrupt[rows]
                meaningful = abs(total[rows].mean()) >= MIN_EFFECT
                share = float(carried.sum() / total[rows].sum()) if meaningful else float("nan")
                out.add(kind, stream, group, int(rows.sum()), float(total[rows].mean()), float(carried.mean()),
                        share, float(clean[rows].mean()), float(corrupt[rows].mean()))
    return out.table()
