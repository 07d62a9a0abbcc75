"""Surface symbols of the two dialects and the tokenizer they share.

The dialects' symbols never collide, so one table maps every symbol to its
meaning and one tokenizer serves LoLa, MeMe and mixed programs alike.
"""

from __future__ import annotations

import re

from lolameme.lang.ast import Op

DIALECTS = ("lola", "meme")  # the keys of SYMBOL and BRACKETS

# symbol -> meaning, for both dialects at once
OPERATOR_OF: dict[str, Op] = {
    "+": "add", "-": "sub", "*": "mul", "%": "mod",   # LoLa
    "|": "add", "!": "sub", "@": "mul", "/": "mod",   # MeMe
}
CLOSER_OF: dict[str, str] = {"(": ")", "{": "}"}      # LoLa, MeMe

SYMBOL: dict[str, dict[Op, str]] = {
    "lola": {"add": "+", "sub": "-", "mul": "*", "mod": "%"},
    "meme": {"add": "|", "sub": "!", "mul": "@", "mod": "/"},
}
BRACKETS: dict[str, tuple[str, str]] = {"lola": ("(", ")"), "meme": ("{", "}")}

# Tokens: an unsigned decimal literal, a word (checked as a name afterwards), or
# any other single non-whitespace character. Whitespace (ASCII only) separates
# tokens and is otherwise ignored. findall() returns the tokens as plain
# strings in one C call, which is what makes the parser fast; the position of a
# token is recomputed (finditer) only when an error message needs its column.
TOKEN = re.compile(r"[0-9]+|[A-Za-z_]+|[^ \t\n\r\f\v]")

MAX_NESTING = 100           # brackets deeper than this are a ParseError
MAX_LITERAL_DIGITS = 1000   # longer integer literals are a ParseError
MAX_VALUE_BITS = 4096       # an operator result this large is an EvalError


def tokenize(text: str) -> list[str]:
    """The tokens of ``text`` as strings, whitespace dropped."""
    return TOKEN.findall(text)


def column_of(text: str, token_index: int) -> int:
    """1-based column of token number ``token_index``; one past the end if there is none."""
    for k, match in enumerate(TOKEN.finditer(text)):
        if k == token_index:
            return match.start() + 1
    return len(text) + 1
