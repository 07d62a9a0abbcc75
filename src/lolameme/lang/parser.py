"""One parser for LoLa, MeMe and mixed programs.

Grammar (whitespace between tokens is insignificant)::

    program    := (stmt ';')* print_stmt [';']
    stmt       := NAME '=' expr
    expr       := INT | NAME | OPEN expr OP expr CLOSE
    print_stmt := 'print' OPEN NAME CLOSE

Expressions are parsed with an explicit stack instead of recursion, so deep
nesting is rejected with a ParseError (beyond ``MAX_NESTING``) rather than a
RecursionError, and the work is linear in the input length.
"""

from __future__ import annotations

from lolameme.errors import ParseError
from lolameme.lang.ast import Assign, BinOp, Expr, Num, Program, Var
from lolameme.lang.names import RESERVED, canonical, describe_names, remember
from lolameme.lang.syntax import (
    CLOSER_OF,
    MAX_LITERAL_DIGITS,
    MAX_NESTING,
    OPERATOR_OF,
    column_of,
    tokenize,
)

_OPERATORS = "'+' '-' '*' '%' (LoLa) or '|' '!' '@' '/' (MeMe)"
_OPERAND = "an integer, a name, '(' or '{'"

# Leaves are immutable, so one object per distinct literal or name is shared
# by all trees (saves most allocations); cleared when large.
_var_cache: dict[str, Var] = {}
_num_cache: dict[str, Num] = {}


def parse(text: str) -> Program:
    """Parse a LoLa, MeMe or mixed program into its (dialect-free) AST."""
    if not isinstance(text, str):
        raise ParseError(f"a program must be a str, got {type(text).__name__}")
    return _Parser(text).program()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)

    # --- errors -----------------------------------------------------------
    def _found(self, i: int) -> str:
        return repr(self.tokens[i]) if i < len(self.tokens) else "end of input"

    def fail(self, i: int, expected: str) -> ParseError:
        column = column_of(self.text, i)
        return ParseError(f"column {column}: expected {expected}, found {self._found(i)}")

    # --- grammar ----------------------------------------------------------
    def program(self) -> Program:
        tokens, n = self.tokens, len(self.tokens)
        statements: list[Assign] = []
        i = 0
        while True:
            if i >= n:
                raise self.fail(i, "a statement 'name = expression' or 'print(name)'")
            if tokens[i] == RESERVED and i + 1 < n and tokens[i + 1] in CLOSER_OF:
                printed = self._print(i)
                return Program(tuple(statements), printed)
            target = self.name(i, "a statement 'name = expression' or 'print(name)'")
            if i + 1 >= n or tokens[i + 1] != "=":
                raise self.fail(i + 1, f"'=' after {tokens[i]!r}")
            value, i = self.expr(i + 2)
            if i >= n or tokens[i] != ";":
                raise self.fail(i, "';' after the statement")
            statements.append(Assign(target, value))
            i += 1

    def _print(self, i: int) -> str:
        tokens, n = self.tokens, len(self.tokens)
        opener = tokens[i + 1]
        printed = self.name(i + 2, "the name of the variable to print")
        closer = CLOSER_OF[opener]
        if i + 3 >= n or tokens[i + 3] != closer:
            raise self._unclosed(i + 3, i + 1)
        end = i + 4
        if end < n and tokens[end] == ";":
            end += 1
        if end < n:
            raise self.fail(end, "end of program after print (print must be the last statement)")
        return printed

    def name(self, i: int, expected: str) -> str:
        if i >= len(self.tokens):
            raise self.fail(i, expected)
        token = self.tokens[i]
        name = canonical(token)
        if name is None:
            if token[0].isalpha() or token[0] == "_":  # a word, but no valid name
                column = column_of(self.text, i)
                raise ParseError(f"column {column}: {token!r} is not a valid name; {describe_names()}")
            raise self.fail(i, expected)
        return name

    def atom(self, i: int) -> Expr:
        tokens = self.tokens
        token = tokens[i] if i < len(tokens) else ""
        if "0" <= token[:1] <= "9":
            leaf = _num_cache.get(token)
            if leaf is None:
                if len(token) > MAX_LITERAL_DIGITS:
                    raise ParseError(
                        f"column {column_of(self.text, i)}: integer literal has {len(token)} digits; "
                        f"at most {MAX_LITERAL_DIGITS} are accepted"
                    )
                leaf = remember(_num_cache, token, Num(int(token)))
            return leaf
        leaf = _var_cache.get(token)
        if leaf is None:
            leaf = remember(_var_cache, token, Var(self.name(i, _OPERAND)))
        return leaf

    def expr(self, i: int) -> tuple[Expr, int]:
        """Parse one expression from token ``i``; return it and the next index."""
        tokens, n = self.tokens, len(self.tokens)
        # One frame per open bracket: [opener index, operator, left operand].
        stack: list[list] = []
        while True:
            if i < n and tokens[i] in CLOSER_OF:
                if len(stack) >= MAX_NESTING:
                    raise ParseError(
                        f"column {column_of(self.text, i)}: brackets nested deeper than "
                        f"{MAX_NESTING} levels are not accepted"
                    )
                stack.append([i, None, None])
                i += 1
                continue
            node = self.atom(i)
            i += 1
            while stack:
                frame = stack[-1]
                if frame[1] is None:  # left operand done: an operator must follow
                    op = OPERATOR_OF.get(tokens[i]) if i < n else None
                    if op is None:
                        raise self.fail(i, f"an operator {_OPERATORS}")
                    frame[1], frame[2] = op, node
                    i += 1
                    break
                # right operand done: the opener's partner must follow
                opener = frame[0]
                if i >= n or tokens[i] != CLOSER_OF[tokens[opener]]:
                    raise self._unclosed(i, opener)
                stack.pop()
                node = BinOp(frame[1], frame[2], node)
                i += 1
            else:
                return node, i

    def _unclosed(self, i: int, opener: int) -> ParseError:
        bracket = self.tokens[opener]
        return self.fail(
            i, f"{CLOSER_OF[bracket]!r} to close {bracket!r} at column {column_of(self.text, opener)}"
        )
