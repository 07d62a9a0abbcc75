"""Which splits a corpus has, how big they are, and how each one's programs are drawn.

* LoLa or MeMe corpora: ``train`` (reads globals and may assign them their
  fixed value), ``test_with_globals`` (reads at least one global, assigns
  none: the model must recall it), ``test_without_globals`` (no globals at
  all). Without globals (GLOBAL_VAR_COUNT = 0, e.g. operator pre-training)
  there is no ``test_with_globals``.
* Mixed corpora (paper section 6, mixing): ``train`` is half LoLa, half MeMe
  (whole programs, on alternate rows); ``test_sample_mixing`` likewise, each
  program all LoLa or all MeMe; ``test_module_mixing`` mixes operators,
  brackets and names inside every program. Both mixing tests read at least one
  global and assign none, like ``test_with_globals`` (no globals when the
  corpus has none).
"""

from __future__ import annotations

from dataclasses import dataclass

from lolameme.data.generator.config import GeneratorConfig
from lolameme.data.generator.programs import SplitRule

CHUNK_ROWS = 8192    # programs per chunk at most
CHUNK_MARGIN = 0.03  # chunks draw this many extra programs for rejections and duplicates

# A split's number enters its chunks' seeds; fixed per name so that adding a
# split never changes the others.
SPLIT_SEED_INDEX = {
    "train": 1,
    "test_with_globals": 2,
    "test_without_globals": 3,
    "test_sample_mixing": 4,
    "test_module_mixing": 5,
}


@dataclass(frozen=True)
class SplitPlan:
    name: str
    size: int
    rule: SplitRule

    @property
    def seed_index(self) -> int:
        return SPLIT_SEED_INDEX[self.name]

    @property
    def chunk_rows(self) -> int:
        """Programs drawn per chunk: the split's size (plus a margin) over as few chunks as possible.

        Part of the corpus definition, so a function of the config only. Sizing
        chunks to the split keeps the programs drawn in vain near CHUNK_MARGIN
        (a 10k split takes two chunks of 5,150, not two of 8,192).
        """
        chunks = max(1, -(-self.size // CHUNK_ROWS))
        return max(1, -(-int(self.size * (1 + CHUNK_MARGIN)) // chunks))

    def chunks_for(self, rows: int) -> int:
        """Chunks expected to yield ``rows`` more accepted programs."""
        return -(-int(rows * (1 + CHUNK_MARGIN)) // self.chunk_rows)


def plan_splits(config: GeneratorConfig) -> list[SplitPlan]:
    """The corpus's splits in generation order (train first: tests must avoid its programs)."""
    has_globals = config.global_var_count > 0
    train_globals = "train" if has_globals else "none"
    test_globals = "required" if has_globals else "none"
    if config.language == "mixed":
        rules = {
            "train": SplitRule(train_globals, "alternate"),
            "test_sample_mixing": SplitRule(test_globals, "alternate"),
            "test_module_mixing": SplitRule(test_globals, "mixed"),
        }
    else:
        rules = {"train": SplitRule(train_globals, config.language)}
        if has_globals:
            rules["test_with_globals"] = SplitRule("required", config.language)
        rules["test_without_globals"] = SplitRule("none", config.language)
    return [SplitPlan(name, config.dataset_size if name == "train" else config.test_dataset_size, rule)
            for name, rule in rules.items()]
