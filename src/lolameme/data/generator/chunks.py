"""One chunk of one split: the unit of work a worker process does.

The corpus is defined as a sequence of chunks per split (``SplitPlan.chunk_rows``
programs each); chunk k of split s is drawn from its own seed
``SeedSequence([seed, s, k])``. So a
chunk's records depend only on (config, split, k), never on which process
made it or how many there are, and merging chunks in order gives
byte-identical files for any worker count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lolameme.data.generator.config import GeneratorConfig
from lolameme.data.generator.hashing import text_hashes
from lolameme.data.generator.names import Vocabulary
from lolameme.data.generator.programs import GLOBAL, Programs, Spec, draw_programs
from lolameme.data.generator.render import TokenTables, render_chunk
from lolameme.data.generator.splits import SplitPlan
from lolameme.data.generator.verify import check_records

VERIFY_SAMPLE = 16    # records per chunk re-run through lolameme.lang with verify: sample


@dataclass
class Context:
    """What every worker needs, built once per process from the config and vocabulary."""

    config: GeneratorConfig
    vocab: Vocabulary

    def __post_init__(self) -> None:
        self.spec = Spec.build(self.config, self.vocab)
        self.tables = TokenTables(self.vocab, self.config.min_int_value, self.config.max_int_value)
        self.globals_table = self.vocab.globals_table()
        self.latent = self.config.latent_rules


@dataclass
class Chunk:
    """The accepted records of one chunk, ready to deduplicate and write."""

    table: pa.Table             # input, label, language, annotations
    hashes: np.ndarray          # (rows,) uint64 hash of each input text
    values: np.ndarray          # (rows,) int64 label values (for answer statistics)
    global_counts: np.ndarray   # (rows, 2) int64 pairs (row, global index): each global occurrence
    rejected: dict[str, int]    # programs redrawn, by reason
    verified: int               # records re-checked with the interpreter


def make_chunk(context: Context, plan: SplitPlan, k: int) -> Chunk:
    """Draw, run, render and hash chunk ``k`` of split ``plan``."""
    config = context.config
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, plan.seed_index, k]))
    programs = draw_programs(context.spec, plan.rule, plan.chunk_rows, rng)
    reject = np.zeros(programs.n, dtype=bool)
    for mask in programs.rejected.values():
        reject |= mask
    keep = np.flatnonzero(~reject)

    texts = render_chunk(context.tables, programs).take(keep)
    values = programs.output[keep]
    labels = pa.array(values).cast(pa.string())
    columns = {
        "input": texts,
        "label": labels,
        "language": context.tables.languages.take(programs.row_language[keep]),
    }
    columns.update({name: pa.array(array[keep]) for name, array in programs.annotations.items()})
    columns["answer_len"] = pc.utf8_length(labels)
    table = pa.table(columns)

    check = {"all": len(keep), "sample": min(len(keep), VERIFY_SAMPLE), "off": 0}[config.verify]
    if check:
        check_records(table.slice(0, check).to_pylist(), context.globals_table, context.latent)

    return Chunk(table=table, hashes=text_hashes(texts), values=values,
                 global_counts=_global_occurrences(context, plan, programs, keep),
                 rejected={reason: int(mask.sum()) for reason, mask in programs.rejected.items()}, verified=check)


def _global_occurrences(context: Context, plan: SplitPlan, programs: Programs, keep: np.ndarray) -> np.ndarray:
    """(row, global) pairs, one per occurrence of a global in a kept program's text.

    Occurrences are assignments (training), reads and the print statement.
    """
    L = context.spec.n_locals
    if context.spec.n_globals == 0 or plan.name != "train":  # appearances are counted in train only
        return np.empty((0, 2), dtype=np.int64)
    new_row = np.full(programs.n, -1, dtype=np.int64)
    new_row[keep] = np.arange(len(keep))
    s_t, row_t = np.nonzero(programs.target >= L)
    s_r, i_r, row_r = np.nonzero(programs.kind == GLOBAL)
    (row_p,) = np.nonzero(programs.printed >= L)
    rows = np.concatenate([row_t, row_r, row_p])
    ids = np.concatenate([programs.target[s_t, row_t], programs.ref[s_r, i_r, row_r], programs.printed[row_p]]) - L
    kept = new_row[rows] >= 0
    return np.stack([new_row[rows][kept], ids[kept]], axis=1)
