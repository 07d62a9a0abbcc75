"""The generator's configuration: one validated object, built once at the edge.

Every knob of the paper's appendix A.1 ``baseconfig`` is here under a readable
snake_case name, plus a seed and the few choices the paper leaves to its code
(operand probabilities), which we make explicit. :func:`load_config` also
accepts the paper's UPPER_CASE keys exactly as printed (``GLOBALVAR_COUNT``,
``MIN-VAR-LENGTH``, ``OPERATORS.LOLA``, the misspelled
``LATENT_CARACTER_ASCILA``...) and translates them here, once, so a user can
paste the paper's dict. Nothing downstream ever sees a paper key.

Validation happens before anything is written: unknown keys, wrong types and
impossible combinations raise :class:`~lolameme.errors.ConfigError` naming the
key and the bad value.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lolameme.errors import ConfigError
from lolameme.validation import validation_problems
from lolameme.lang.latent import LatentRules
from lolameme.lang.names import RESERVED
from lolameme.lang.syntax import BRACKETS, SYMBOL

LANGUAGES = ("lola", "meme", "mixed")
CASES = {"lola": "camel", "meme": "snake"}
MAX_DEPTH_LIMIT = 8            # 2**8 - 1 expression nodes per statement at most
MAX_INT_LIMIT = 1_000_000_000  # keeps every intermediate value well inside int64
ALPHABET = 26


class GeneratorConfig(BaseModel):
    """Everything that determines a LOLAMEME corpus (with the seed, byte for byte)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # -- language and surface form (paper A.1)
    language: Literal[LANGUAGES] = "lola"  # type: ignore[valid-type]
    operators: dict[str, list[str]] = Field(default_factory=lambda: {
        "lola": ["+", "-", "*", "%"], "meme": ["|", "!", "@", "/"]})
    grouping: dict[str, list[str]] = Field(default_factory=lambda: {"lola": ["(", ")"], "meme": ["{", "}"]})
    case: dict[str, str] = Field(default_factory=lambda: dict(CASES))
    var_name_underscore_probability: float = 0.5

    # -- latent types (paper A.1; alphabet indices a=0 .. z=26, as LatentRules)
    latent_boundary_a: int = 23
    latent_boundary_b: int = 26
    latent_boundary_c: int = 26
    latent_type_probability: list[float] = Field(default_factory=lambda: [0.3, 0.4])
    latent_type_a_modification: str = "*2"
    latent_type_b_modification: str = "/2"
    latent_type_c_modification: str = "/2"

    # -- vocabulary and programs (paper A.1)
    global_var_count: int = 500
    local_var_count: int = 10
    statement_count: int = 5
    expression_min_depth: int = 1
    expression_max_depth: int = 2
    min_var_length: int = 3
    max_var_length: int = 10
    mean_var_length: float | None = None   # A.2: sets min/max to round(0.75 M), round(1.25 M)
    min_int_value: int = 1
    max_int_value: int = 100
    dataset_size: int = 100_000
    test_dataset_size: int = 10_000
    global_variables_num_appearance: int = 1000
    use_faker: bool = False
    seed: int = 0

    # -- choices the paper leaves to its code (docs/generator.md explains the defaults)
    constant_probability: float = 0.1       # an operand is an integer literal
    local_read_probability: float = 0.2     # an operand reads a local assigned earlier (if any)
    global_assign_probability: float = 0.2  # a training statement assigns a global its fixed value

    # -- how labels are checked while generating (does not change the data)
    verify: Literal["sample", "all", "off"] = "sample"

    @model_validator(mode="before")
    @classmethod
    def _bounds_from_mean_length(cls, data: Any) -> Any:
        """With A.2's mean length M, store the bounds it implies, so a dumped config (a manifest's) loads again.

        Explicit bounds beside M are accepted only when they are the ones M implies.
        """
        if not isinstance(data, dict) or data.get("mean_var_length") is None:
            return data
        mean = data["mean_var_length"]
        if not isinstance(mean, (int, float)) or isinstance(mean, bool):
            return data  # the field's own validation reports the type
        if not math.isfinite(mean) or not 1 <= mean <= 64:
            _fail("mean_var_length", mean, "a name length from 1 to 64 letters (A.2's mean length M)")
        derived = {"min_var_length": round(0.75 * mean), "max_var_length": round(1.25 * mean)}
        for key, value in derived.items():
            if key in data and data[key] != value:
                _fail(key, data[key], f"give either mean_var_length (A.2) or min/max_var_length, not both "
                                      f"(mean_var_length = {mean} implies {key} = {value})")
        return {**data, **derived}

    @model_validator(mode="after")
    def _check_combinations(self) -> GeneratorConfig:
        _check(self)
        return self

    # ---------------------------------------------------------------- derived
    @property
    def latent_rules(self) -> LatentRules:
        return LatentRules(
            boundary_a=self.latent_boundary_a, boundary_b=self.latent_boundary_b,
            modification_a=self.latent_type_a_modification,
            modification_b=self.latent_type_b_modification,
            modification_c=self.latent_type_c_modification,
        )

    @property
    def var_length_bounds(self) -> tuple[int, int]:
        """(min, max) name length; A.2's mean length wins when it is set."""
        if self.mean_var_length is not None:
            return round(0.75 * self.mean_var_length), round(1.25 * self.mean_var_length)
        return self.min_var_length, self.max_var_length

    @property
    def op_codes(self) -> list[int]:
        """Indices into lang's OPS (add, sub, mul, mod) of the operators in use."""
        order = list(SYMBOL["lola"].values())
        return [order.index(symbol) for symbol in self.operators["lola"]]


# ------------------------------------------------------------------ checks


def _fail(key: str, value: Any, why: str) -> NoReturn:
    raise ConfigError(f"generator config key {key!r} = {value!r}: {why}")


def name_capacity(min_length: int, max_length: int) -> int:
    """How many distinct canonical names have a length in [min, max] (first letter lowercase)."""
    return sum(ALPHABET * (2 * ALPHABET) ** (n - 1) for n in range(min_length, max_length + 1))


def _check(c: GeneratorConfig) -> None:
    for key in ("var_name_underscore_probability", "constant_probability",
                "local_read_probability", "global_assign_probability"):
        value = getattr(c, key)
        if not 0.0 <= value <= 1.0:
            _fail(key, value, "a probability must lie in [0, 1]")
    if c.global_var_count > 0 and c.constant_probability + c.local_read_probability >= 1:
        _fail("constant_probability", c.constant_probability,
              f"with local_read_probability = {c.local_read_probability} no operand is ever a global, but "
              "test programs must read one: keep their sum below 1 (or set global_var_count: 0)")
    _check_surface(c)
    _check_latent(c)
    for key in ("global_var_count", "dataset_size", "test_dataset_size", "global_variables_num_appearance",
                "min_int_value", "seed"):
        if getattr(c, key) < 0:
            _fail(key, getattr(c, key), "must be >= 0")
    for key in ("local_var_count", "statement_count", "expression_min_depth", "dataset_size"):
        if getattr(c, key) < 1:
            _fail(key, getattr(c, key), "must be >= 1")
    if c.expression_max_depth > MAX_DEPTH_LIMIT:
        _fail("expression_max_depth", c.expression_max_depth, f"at most {MAX_DEPTH_LIMIT} is accepted")
    if c.expression_min_depth > c.expression_max_depth:
        _fail("expression_min_depth", c.expression_min_depth,
              f"exceeds expression_max_depth = {c.expression_max_depth}")
    if c.max_int_value > MAX_INT_LIMIT:
        _fail("max_int_value", c.max_int_value, f"at most {MAX_INT_LIMIT} is accepted")
    if c.min_int_value > c.max_int_value:
        _fail("min_int_value", c.min_int_value, f"exceeds max_int_value = {c.max_int_value}")
    _check_names(c)
    _check_memory(c)


# Memory per unit, measured with /usr/bin/time on a 2-core AMD EPYC (peak RSS of `lolameme generate`):
# 725 bytes per name at max_var_length 10 (1M globals: 883 MB vs 150 MB without), and 225 bytes
# per statement of each program of a chunk at expression_max_depth 2 (400 statements: 902 MB).
BASE_BYTES = 150e6
NAME_BYTES_PER_LETTER = 75
STATEMENT_BYTES_PER_NODE_LEVEL = 60   # x 2**expression_max_depth
HASH_BYTES_PER_ROW = 16               # program hashes kept to drop duplicates across splits


def memory_estimate(c: GeneratorConfig) -> dict[str, float]:
    """Bytes each size key costs to generate ``c`` with one worker (each extra worker adds a chunk)."""
    from lolameme.data.generator.splits import plan_splits

    plans = plan_splits(c)
    chunk = max(p.chunk_rows for p in plans)
    letters = c.var_length_bounds[1]
    return {
        "base": BASE_BYTES,
        f"global_var_count = {c.global_var_count}": c.global_var_count * NAME_BYTES_PER_LETTER * letters,
        f"local_var_count = {c.local_var_count}": c.local_var_count * NAME_BYTES_PER_LETTER * letters,
        f"statement_count = {c.statement_count}":
            chunk * c.statement_count * STATEMENT_BYTES_PER_NODE_LEVEL * 2 ** c.expression_max_depth,
        f"dataset_size = {c.dataset_size}": c.dataset_size * HASH_BYTES_PER_ROW,
        f"test_dataset_size = {c.test_dataset_size}": c.test_dataset_size * HASH_BYTES_PER_ROW * (len(plans) - 1),
    }


def _check_memory(c: GeneratorConfig) -> None:
    from lolameme.machine import memory_shortfall

    shortfall = memory_shortfall(memory_estimate(c))
    if shortfall is not None:
        key, message = shortfall
        name, _, value = key.partition(" = ")
        _fail(name, int(value) if value else value, message)


def _check_surface(c: GeneratorConfig) -> None:
    if set(c.operators) != {"lola", "meme"}:
        _fail("operators", c.operators, "give exactly the keys 'lola' and 'meme'")
    lola, meme = c.operators["lola"], c.operators["meme"]
    for dialect, symbols in (("lola", lola), ("meme", meme)):
        known = list(SYMBOL[dialect].values())
        if not symbols or len(set(symbols)) != len(symbols) or any(s not in known for s in symbols):
            _fail(f"operators.{dialect}", symbols,
                  f"a non-empty list of distinct {dialect} operators from {known} (fixed by docs/language.md)")
    pairs = dict(zip(SYMBOL["lola"].values(), SYMBOL["meme"].values()))
    if len(lola) != len(meme) or any(pairs[a] != b for a, b in zip(lola, meme)):
        _fail("operators.meme", meme, f"must name the same operations as operators.lola = {lola} "
              f"in the same order (pairs: {pairs})")
    for dialect in ("lola", "meme"):
        if c.grouping.get(dialect) != list(BRACKETS[dialect]) or set(c.grouping) != {"lola", "meme"}:
            _fail(f"grouping.{dialect}", c.grouping.get(dialect),
                  f"is fixed by the language spec to {list(BRACKETS[dialect])}")
        if c.case.get(dialect) != CASES[dialect] or set(c.case) != {"lola", "meme"}:
            _fail(f"case.{dialect}", c.case.get(dialect), f"is fixed by the language spec to {CASES[dialect]!r}")


def _check_latent(c: GeneratorConfig) -> None:
    a, b = c.latent_boundary_a, c.latent_boundary_b
    if not 0 <= a <= ALPHABET:
        _fail("latent_boundary_a", a, "an alphabet index from 0 to 26 (paper: LATENT_CARACTER_ASCILA)")
    if not a <= b <= ALPHABET:
        _fail("latent_boundary_b", b, f"an alphabet index from latent_boundary_a = {a} to 26 (-1 means 26)")
    if c.latent_boundary_c != ALPHABET:
        _fail("latent_boundary_c", c.latent_boundary_c, "type C always runs to 'z': only 26 (or the paper's -1)")
    probs = c.latent_type_probability
    if len(probs) != 2:
        _fail("latent_type_probability", probs, "two probabilities: [type A, type B] (type C gets the rest)")
    if any(not 0.0 <= p <= 1.0 for p in probs) or sum(probs) > 1.0 + 1e-12:
        _fail("latent_type_probability", probs, "each in [0, 1] and summing to at most 1")
    if probs[0] > 0 and a == 0:
        _fail("latent_type_probability", probs, "type A has probability > 0 but no letters (latent_boundary_a = 0)")
    if probs[1] > 0 and a == b:
        _fail("latent_type_probability", probs,
              f"type B has probability > 0 but no letters (latent_boundary_a = latent_boundary_b = {a})")
    for key in ("latent_type_a_modification", "latent_type_b_modification", "latent_type_c_modification"):
        try:
            LatentRules(**{"modification_" + key[12]: getattr(c, key)})
        except ConfigError:
            _fail(key, getattr(c, key), "'*k' or '/k' with k a positive integer, or '' for none")


def _check_names(c: GeneratorConfig) -> None:
    if c.mean_var_length is not None and c.mean_var_length < 1:
        _fail("mean_var_length", c.mean_var_length, "must be >= 1 (names have at least one letter)")
    low, high = c.var_length_bounds
    key = "mean_var_length" if c.mean_var_length is not None else "min_var_length"
    if low < 1:
        _fail(key, low, "names need at least 1 letter")
    if low > high:
        _fail(key, low, f"minimum name length exceeds the maximum {high}")
    if high > 64:
        _fail("max_var_length", high, "at most 64 letters")
    if c.use_faker:
        return  # the word list decides; names.py reports a shortfall
    wanted = c.global_var_count + c.local_var_count
    capacity = name_capacity(low, high) - (low <= len(RESERVED) <= high)
    if wanted > capacity // 2:
        _fail("local_var_count" if c.local_var_count > c.global_var_count else "global_var_count", wanted,
              f"{c.global_var_count} globals + {c.local_var_count} locals need more than half of the "
              f"{capacity} distinct names of length {low}..{high}; allow longer names or fewer variables")


# ------------------------------------------------------------ paper keys

# The paper's A.1 dict, as printed, -> our keys. UPPER_CASE keys not listed
# here are tried lowercased (``STATEMENT_COUNT`` -> ``statement_count``).
PAPER_KEYS = {
    "GLOBALVAR_COUNT": "global_var_count",
    "MIN-VAR-LENGTH": "min_var_length",
    "MAX-VAR-LENGTH": "max_var_length",
    "LATENT_CARACTER_ASCILA": "latent_boundary_a",
    "LATENT_CARACTER_ASCILB": "latent_boundary_b",
    "LATENT_CARACTER_ASCILC": "latent_boundary_c",
    "LATENT_CHARACTER_ASCII_A": "latent_boundary_a",
    "LATENT_CHARACTER_ASCII_B": "latent_boundary_b",
    "LATENT_CHARACTER_ASCII_C": "latent_boundary_c",
    "LATENT_VARIABLE_PROBABILITY": "latent_type_probability",
}
_NESTED = ("operators", "grouping", "case")
_END_OF_ALPHABET_KEYS = ("latent_boundary_b", "latent_boundary_c")  # the paper's -1 means "to the end"


def _translate_key(key: str) -> str:
    return PAPER_KEYS.get(key) or key.lower().replace("-", "_")


def translate(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Paper or snake_case keys -> snake_case keys; nested per-language dicts kept nested.

    ``OPERATORS.LOLA`` (flat, as the paper prints it) and ``{"OPERATORS": {"LOLA": ...}}``
    (what ``--set OPERATORS.LOLA=...`` gives) both become ``{"operators": {"lola": ...}}``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of config keys to values, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def put(key: str, value: Any, written: str) -> None:
        if key in out and out[key] != value:
            raise ConfigError(f"{source}: {written!r} and {origin[key]!r} both set {key!r} "
                              f"({value!r} vs {out[key]!r}); give it once")
        out[key], origin[key] = value, written

    for written, value in raw.items():
        if not isinstance(written, str):
            raise ConfigError(f"{source}: config keys must be strings, got {written!r}")
        head, dot, tail = written.partition(".")
        key = _translate_key(head)
        if key in _NESTED:
            parts = {tail: value} if dot else value
            if not isinstance(parts, Mapping):
                raise ConfigError(f"{source}: {written!r} = {value!r}: expected a mapping with keys 'lola' and 'meme'")
            for dialect, item in parts.items():
                d = str(dialect).lower()
                if d not in ("lola", "meme"):
                    raise ConfigError(f"{source}: {written}.{dialect}: unknown dialect; accepted: lola, meme")
                put(f"{key}.{d}", list(item) if isinstance(item, tuple) else item, f"{written}.{dialect}" if not dot else written)
            continue
        if dot:
            raise ConfigError(f"{source}: {written!r}: only operators/grouping/case take a '.lola'/'.meme' part")
        if key == "language" and isinstance(value, str):
            value = value.lower()
        if key in _END_OF_ALPHABET_KEYS and value == -1:
            value = ALPHABET
        if isinstance(value, tuple):
            value = list(value)
        put(key, value, written)
    return out


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        head, dot, tail = key.partition(".")
        if dot:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[key] = value
    return nested


def load_config(base: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> GeneratorConfig:
    """Validate ``base`` (a preset's config) updated by ``overrides`` into a :class:`GeneratorConfig`.

    Either mapping may use snake_case or the paper's UPPER_CASE keys. Per-dialect
    keys merge per dialect, so ``--set operators.lola=[+]`` keeps the preset's
    MeMe operators (and is then rejected unless MeMe's are changed to match).
    """
    preset = translate(base or {}, "preset config")
    override = translate(overrides or {}, "overrides")
    # A.2's mean length and explicit min/max lengths are alternatives: the later source wins.
    if "mean_var_length" in override:
        preset = {k: v for k, v in preset.items() if k not in ("min_var_length", "max_var_length")}
    if {"min_var_length", "max_var_length"} & set(override):
        preset.pop("mean_var_length", None)
    merged = {**preset, **override}
    fields = GeneratorConfig.model_fields
    for key in merged:
        field = key.partition(".")[0]
        if field not in fields:
            close = difflib.get_close_matches(field, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown generator config key {key!r}{hint}; accepted: {', '.join(fields)}")
    values = _nest(merged)
    for key in _NESTED:
        if key in values:
            values[key] = {**fields[key].default_factory(), **values[key]}
    try:
        return GeneratorConfig(**values)
    except ValidationError as exc:
        raise ConfigError(f"bad generator config: {validation_problems(exc)}") from None
