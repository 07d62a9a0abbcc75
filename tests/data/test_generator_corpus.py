"""Invariants of generated corpora, measured on small corpora of every preset.

Every record of every corpus here is re-run through the project's interpreter
(``lolameme.evaluate`` for the label, ``lolameme.lang.trace`` for the
annotations): the generator computes them with numpy, so this is the check
that they are right.
"""

import json
import re
import statistics
import warnings
from collections import Counter

import numpy as np
import pytest

from lolameme import evaluate
from lolameme.data.api import generate_dataset, resolve_config
from lolameme.data.generator import AppearanceWarning
from lolameme.data.generator.names import build_vocabulary, first_letter_distribution
from lolameme.data.generator.verify import check_records
from lolameme.data.io import load_dataset
from lolameme.lang import BinOp, parse, render

SMALL = {"dataset_size": 3000, "test_dataset_size": 500}
PRESETS = ["base", "memorization", "variable-length", "long-input", "operator-pretraining", "mixing"]
LOLA_ONLY = set("+-*%()")
MEME_ONLY = set("|!@/{}")


class Corpus:
    def __init__(self, preset, directory, overrides):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AppearanceWarning)
            self.manifest = generate_dataset(preset, directory, overrides={**SMALL, **overrides})
        self.config = resolve_config(preset, {**SMALL, **overrides})[1]
        tables, _ = load_dataset(directory)
        self.splits = {name: table.to_pylist() for name, table in tables.items()}
        self.globals = json.loads((directory / "globals.json").read_text())
        self.locals = self.manifest["vocabulary"]["locals"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return {name: Corpus(name, tmp_path_factory.mktemp(name), {}) for name in PRESETS}


def _depth(expr):
    return 1 + max(_depth(expr.left), _depth(expr.right)) if isinstance(expr, BinOp) else 1


def _reads(expr):
    if isinstance(expr, BinOp):
        return _reads(expr.left) + _reads(expr.right)
    return [expr.name] if hasattr(expr, "name") else []


@pytest.mark.parametrize("preset", PRESETS)
def test_every_label_and_annotation_equals_the_interpreter(corpora, preset):
    corpus = corpora[preset]
    latent = corpus.config.latent_rules
    for name, records in corpus.splits.items():
        assert len(records) == corpus.manifest["splits"][name]["rows"]
        assert check_records(records, corpus.globals, latent) == len(records)
        for record in records[:200]:
            assert record["label"] == str(evaluate(record["input"], corpus.globals, latent))


@pytest.mark.parametrize("preset", PRESETS)
def test_programs_follow_the_config(corpora, preset):
    corpus = corpora[preset]
    config = corpus.config
    low, high = config.var_length_bounds
    names = set(corpus.locals) | set(corpus.globals)
    assert len(names) == config.local_var_count + config.global_var_count  # unique in canonical form
    assert "print" not in names
    assert all(low <= len(name) <= high for name in names)
    for split, records in corpus.splits.items():
        for record in records:
            program = parse(record["input"])
            assert len(program.statements) == config.statement_count == record["n_statements"]
            assigned = set()
            for statement in program.statements:
                if statement.target in corpus.globals:  # training's global assignment: its fixed value
                    assert split == "train"
                    assert statement.value.value == corpus.globals[statement.target]
                else:
                    assert statement.target in corpus.locals
                    assert config.expression_min_depth <= _depth(statement.value) <= config.expression_max_depth
                for read in _reads(statement.value):
                    assert read in assigned or read in corpus.globals  # never an unassigned local
                assigned.add(statement.target)
            assert program.printed in assigned


@pytest.mark.parametrize("preset", PRESETS)
def test_no_duplicates_within_or_across_splits(corpora, preset):
    corpus = corpora[preset]
    seen = set()
    for records in corpus.splits.values():
        texts = [r["input"] for r in records]
        assert len(set(texts)) == len(texts)
        assert not seen & set(texts)
        seen |= set(texts)
    counts = corpus.manifest["duplicates_dropped"]
    assert set(counts) == set(corpus.splits)
    assert all(set(c) == {"within_split", "in_earlier_splits"} for c in counts.values())


def test_duplicates_are_dropped_and_counted(tmp_path):
    # a tiny program space forces duplicates: 1 statement, literals 1..3, 2 locals
    manifest = generate_dataset("operator-pretraining", tmp_path / "d", overrides={
        "dataset_size": 20, "test_dataset_size": 10, "statement_count": 1, "expression_max_depth": 1,
        "max_int_value": 30, "local_var_count": 2, "min_var_length": 1, "max_var_length": 1})
    dropped = manifest["duplicates_dropped"]
    assert dropped["train"]["within_split"] > 0
    assert dropped["test_without_globals"]["in_earlier_splits"] > 0
    tables, _ = load_dataset(tmp_path / "d")
    train = set(tables["train"].column("input").to_pylist())
    test = tables["test_without_globals"].column("input").to_pylist()
    assert len(train) == 20 and len(set(test)) == 10 and not train & set(test)


def test_test_splits_use_globals_as_specified(corpora):
    for preset in ("base", "memorization", "long-input", "variable-length"):
        corpus = corpora[preset]
        assert set(corpus.splits) == {"train", "test_with_globals", "test_without_globals"}
        for record in corpus.splits["test_with_globals"]:
            program = parse(record["input"])
            assert not any(s.target in corpus.globals for s in program.statements)
            assert any(r in corpus.globals for s in program.statements for r in _reads(s.value))
            assert record["n_global_reads"] > 0 and record["uses_globals"]
        for record in corpus.splits["test_without_globals"]:
            program = parse(record["input"])
            used = {s.target for s in program.statements} | {r for s in program.statements for r in _reads(s.value)}
            assert not used & set(corpus.globals)
            assert record["n_global_reads"] == 0
        assert any(r["n_global_reads"] for r in corpus.splits["train"])


def test_operator_pretraining_has_no_globals_anywhere(corpora):
    corpus = corpora["operator-pretraining"]
    assert corpus.globals == {}
    assert set(corpus.splits) == {"train", "test_without_globals"}
    assert all(r["n_global_reads"] == 0 for records in corpus.splits.values() for r in records)


def _dialect_marks(text):
    symbols = set(text)
    lola = bool(symbols & LOLA_ONLY) or any(c.isupper() for c in text)
    meme = bool(symbols & MEME_ONLY) or "_" in text
    return lola, meme


def test_case_style_and_symbols_of_each_dialect(corpora, tmp_path):
    for preset in ("base", "long-input"):
        for records in corpora[preset].splits.values():
            for record in records:
                assert _dialect_marks(record["input"]) == (True, False)
                assert record["language"] == "lola"
                assert record["input"] == render(parse(record["input"]), "lola")  # the spec's canonical layout
    meme = Corpus("base", tmp_path / "meme", {"language": "meme"})
    for records in meme.splits.values():
        for record in records:
            assert _dialect_marks(record["input"])[0] is False
            assert record["input"] == render(parse(record["input"]), "meme")
            assert record["language"] == "meme"


def test_mixing_splits(corpora):
    corpus = corpora["mixing"]
    assert set(corpus.splits) == {"train", "test_sample_mixing", "test_module_mixing"}
    train = Counter(r["language"] for r in corpus.splits["train"])
    assert set(train) == {"lola", "meme"} and abs(train["lola"] - train["meme"]) <= 0.05 * sum(train.values())
    for record in corpus.splits["train"] + corpus.splits["test_sample_mixing"]:
        lola, meme = _dialect_marks(record["input"])
        assert (lola, meme) == ((True, False) if record["language"] == "lola" else (False, True))
    for record in corpus.splits["test_module_mixing"]:
        assert _dialect_marks(record["input"]) == (True, True)  # really mixed
        assert record["language"] == "mixed"
    for record in corpus.splits["test_sample_mixing"] + corpus.splits["test_module_mixing"]:
        assert record["n_global_reads"] > 0


def test_latent_type_letter_frequencies_in_generated_corpora(corpora):
    # base: p_B = 0.4 on x-z plus the empty type C's 0.3 spread over a-z -> 0.435 of names start with x-z
    for preset in ("base", "long-input"):
        names = list(corpora[preset].globals) + corpora[preset].locals
        share = sum(name[0] >= "x" for name in names) / len(names)
        assert abs(share - (0.4 + 0.3 * 3 / 26)) < 0.08, (preset, share)


def test_latent_type_letter_frequencies_follow_the_config():
    config = resolve_config("base", {"global_var_count": 6000})[1]
    vocab = build_vocabulary(config, np.random.default_rng(5))
    first = Counter(ord(name[0]) - ord("a") for name in vocab.names)
    n = len(vocab.names)
    type_a = sum(first[i] for i in range(23)) / n
    # p_A = 0.3 on a-w, p_B = 0.4 on x-z, and the empty type C's 0.3 spread over a-z
    assert abs(type_a - (0.3 + 0.3 * 23 / 26)) < 0.03
    assert abs(first[23] / n - (0.4 / 3 + 0.3 / 26)) < 0.02
    # a non-empty type C gets its own letters
    config = resolve_config("base", {"global_var_count": 6000, "latent_boundary_a": 10, "latent_boundary_b": 20,
                                     "latent_type_probability": [0.5, 0.1]})[1]
    assert np.allclose(first_letter_distribution(config)[:10], 0.05)
    assert np.allclose(first_letter_distribution(config)[20:], 0.4 / 6)
    vocab = build_vocabulary(config, np.random.default_rng(6))
    type_c = sum(name[0] >= "u" for name in vocab.names) / len(vocab.names)
    assert abs(type_c - 0.4) < 0.03


def test_capitalisation_probability():
    for p in (0.0, 0.5):
        config = resolve_config("base", {"var_name_underscore_probability": p, "global_var_count": 2000})[1]
        names = build_vocabulary(config, np.random.default_rng(1)).names
        later = "".join(name[1:] for name in names)
        share = sum(c.isupper() for c in later) / len(later)
        assert abs(share - p) < 0.02
        assert all(name[0].islower() for name in names)


def test_global_appearance_statistics(tmp_path):
    corpus = Corpus("memorization", tmp_path / "m", {"global_variables_num_appearance": 10})
    counts = Counter()
    for record in corpus.splits["train"]:
        for token in re.findall(r"[A-Za-z]+", record["input"]):
            if token in corpus.globals:
                counts[token] += 1
    values = [counts[name] for name in corpus.globals]
    report = corpus.manifest["global_appearances"]
    assert (report["min"], report["median"], report["max"]) == (min(values), statistics.median(values), max(values))
    assert report["met"] and "warning" not in report
    assert max(values) - min(values) <= 0.2 * statistics.mean(values)  # steered: spread evenly
    with pytest.warns(AppearanceWarning, match="fewer than global_variables_num_appearance"):
        manifest = generate_dataset("base", tmp_path / "b", overrides=SMALL)
    assert manifest["global_appearances"]["met"] is False


def test_manifest_contents(corpora):
    manifest = corpora["base"].manifest
    for key in ("task", "package_version", "config", "seed", "latent", "splits", "duplicates_dropped",
                "answers", "global_appearances", "rejected_while_drawing"):
        assert key in manifest
    assert manifest["config"]["statement_count"] == 5
    assert manifest["latent"] == {"boundary_a": 23, "boundary_b": 26, "modification_a": "*2",
                                  "modification_b": "/2", "modification_c": "/2"}
    answers = manifest["answers"]["train"]
    labels = [int(r["label"]) for r in corpora["base"].splits["train"]]
    assert answers["distinct"] == len(set(labels))
    assert (answers["min_value"], answers["max_value"]) == (min(labels), max(labels))
    assert manifest["rejected_while_drawing"]["train"]["modulo_by_zero"] > 0  # redrawn, never written


@pytest.mark.parametrize("overrides", [
    {"expression_min_depth": 2, "expression_max_depth": 4, "statement_count": 8, "language": "meme"},
    {"expression_max_depth": 3, "operators": {"lola": ["*", "%"], "meme": ["@", "/"]}, "min_int_value": 0,
     "max_int_value": 5, "latent_type_a_modification": "*3", "latent_type_c_modification": "/3",
     "latent_boundary_a": 10, "latent_boundary_b": 20, "latent_type_probability": [0.5, 0.3]},
    {"max_int_value": 1_000_000_000, "min_int_value": 999_000_000, "language": "meme"},  # literals not pre-rendered
    {"language": "mixed", "expression_max_depth": 3, "global_var_count": 0, "local_var_count": 3,
     "min_var_length": 1, "max_var_length": 2, "var_name_underscore_probability": 1.0},
])
def test_other_configs_are_labelled_right_too(tmp_path, overrides):
    corpus = Corpus("base", tmp_path / "c", {"dataset_size": 1500, "test_dataset_size": 300,
                                             "global_variables_num_appearance": 0, **overrides})
    config = corpus.config
    for records in corpus.splits.values():
        check_records(records, corpus.globals, config.latent_rules)
        for record in records:
            for statement in parse(record["input"]).statements:
                if statement.target in corpus.locals:
                    assert config.expression_min_depth <= _depth(statement.value) <= config.expression_max_depth
    assert sum(r["n_latent"] for records in corpus.splits.values() for r in records) > 0 or \
        config.latent_rules.modification_a == ""
