"""Tokenizers round-trip programs exactly, save/load to the run directory, and reject what they cannot encode."""

from __future__ import annotations

import random

import pytest

from lolameme.errors import TokenizerError
from lolameme.tokenizers import TOKENIZER_NAMES, get_tokenizer, load_tokenizer

from train_helpers import make_program

LOLA = "tmrGk = 24;xnbolt = 77;xnbolt = (yI % aL);oZ = (dVfa - tmrGk);print(xnbolt)"
MEME = "f_ig_ld = e_tb;x_nb = {76 @ z_jey};o_z = {z_g ! 45};print(f_ig_ld)"
LISTOPS = "[MAX 2 9 [MIN 4 7 ] 0 [SM 1 [MED 3 5 8 ] ] ]"


def _corpus() -> list[str]:
    rng = random.Random(0)
    return [LOLA, LOLA, MEME, MEME, *(make_program(rng, 5)[0] for _ in range(200))]


def _get(name: str):
    """Any tokenizer by name; ``words`` fitted to a small corpus of programs."""
    return get_tokenizer(name, _corpus() if name == "words" else None)


@pytest.mark.parametrize("name", ["char", "words", "gpt2"])
def test_programs_round_trip(name: str) -> None:
    tok = _get(name)
    rng = random.Random(0)
    texts = [LOLA, MEME, "-48", "0", "unseen_Name = 4 ## 2;\n", *(make_program(rng, 5)[0] for _ in range(200))]
    for text in texts:
        assert tok.decode(tok.encode(text)) == text
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]


def test_char_is_one_token_per_character_and_digits_stay_separate() -> None:
    tok = get_tokenizer("char")
    assert len(tok.encode(LOLA)) == len(LOLA)
    assert [tok.decode([i]) for i in tok.encode("-1234")] == list("-1234")


def test_words_makes_each_frequent_identifier_and_spaced_operator_one_token() -> None:
    tok = _get("words")
    pieces = [tok.decode([i]) for i in tok.encode("tmrGk = (xnbolt % 24);print(tmrGk)")]
    assert pieces == ["tmrGk", " = ", "(", "xnbolt", " % ", "2", "4", ")", ";", "print", "(", "tmrGk", ")"]
    assert len(tok.encode(LOLA)) < len(LOLA) / 2
    assert [tok.decode([i]) for i in tok.encode("-1234")] == list("-1234")  # answers stay digit by digit
    # a word seen once is not in the vocabulary: it falls back to characters and still round-trips
    assert len(tok.encode("zzOnlyHere")) == len("zzOnlyHere")


def test_words_vocabulary_is_a_function_of_the_corpus() -> None:
    assert get_tokenizer("words", _corpus()).fingerprint == get_tokenizer("words", list(reversed(_corpus()))).fingerprint
    assert get_tokenizer("words", _corpus()).fingerprint != get_tokenizer("words", [LOLA, LOLA]).fingerprint
    with pytest.raises(TokenizerError, match="fitted to a corpus"):
        get_tokenizer("words")


def test_gpt2_matches_the_original_vocabulary() -> None:
    tok = get_tokenizer("gpt2")
    # ids of GPT-2's published encoder.json: "Hello" = 15496, " world" = 995
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.vocab_size == 50257 + 4
    assert {tok.pad_id, tok.bos_id, tok.sep_id, tok.eos_id} == {50257, 50258, 50259, 50260}


def test_listops_round_trip_and_vocabulary() -> None:
    tok = get_tokenizer("listops")
    ids = tok.encode(LISTOPS)
    assert len(ids) == len(LISTOPS.split())
    assert tok.decode(ids) == LISTOPS
    assert tok.vocab_size == 4 + 1 + 5 + 10  # specials, unk, operators and ], digits


@pytest.mark.parametrize("name", TOKENIZER_NAMES)
def test_save_and_load(tmp_path, name: str) -> None:
    tok = _get(name)
    tok.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path)
    assert loaded.name == name
    assert loaded.fingerprint == tok.fingerprint
    text = LISTOPS if name == "listops" else LOLA
    assert loaded.encode(text) == tok.encode(text)
    assert (loaded.bos_id, loaded.sep_id, loaded.eos_id, loaded.pad_id) == (tok.bos_id, tok.sep_id, tok.eos_id, tok.pad_id)


def test_special_ids_are_distinct_and_decode_drops_them() -> None:
    tok = get_tokenizer("char")
    assert len({tok.pad_id, tok.bos_id, tok.sep_id, tok.eos_id}) == 4
    assert tok.decode([tok.bos_id, *tok.encode("ab"), tok.sep_id, tok.eos_id]) == "ab"


def test_unknown_symbols_are_errors_not_silently_dropped() -> None:
    with pytest.raises(TokenizerError, match="é"):
        get_tokenizer("char").encode("x = é")
    with pytest.raises(TokenizerError, match="é"):
        _get("words").encode("tmrGk = é")
    with pytest.raises(TokenizerError, match=r"\("):
        get_tokenizer("listops").encode("[MAX 2 ( 3 ]")
    with pytest.raises(TokenizerError, match="unknown tokenizer"):
        get_tokenizer("bpe")


def test_load_rejects_missing_and_corrupt_files(tmp_path) -> None:
    with pytest.raises(TokenizerError, match="does not exist"):
        load_tokenizer(tmp_path / "nope.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(TokenizerError, match="not a valid tokenizer"):
        load_tokenizer(bad)


def test_every_program_of_generated_corpora_round_trips(tmp_path) -> None:
    from lolameme.data.api import generate_dataset
    from lolameme.data.io import load_split

    mixing = generate_dataset("mixing", tmp_path / "mix", overrides={
        "dataset_size": 200, "test_dataset_size": 50, "global_var_count": 10, "global_variables_num_appearance": 5})
    listops = generate_dataset("listops-small", tmp_path / "lo", overrides={
        "num_train_samples": 100, "num_valid_samples": 10, "num_test_samples": 10})
    checks = [(tmp_path / "mix", mixing, ("char", "gpt2")), (tmp_path / "lo", listops, ("listops", "char"))]
    for directory, manifest, names in checks:
        for split in manifest["splits"]:
            table = load_split(directory, split)
            texts = table.column("input").to_pylist() + [str(x) for x in table.column("label").to_pylist()]
            for name in names:
                tok = get_tokenizer(name)
                for text, ids in zip(texts, tok.encode_batch(texts)):
                    assert tok.decode(ids) == text
