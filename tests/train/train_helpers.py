"""Small hand-made LOLA-style datasets for the trainer's tests.

The programs are generated here (not by the data package's generator) so the tests
pin the trainer's behaviour on data whose every property we control.
"""

from __future__ import annotations

import random
from pathlib import Path

from lolameme.data.io import DatasetWriter

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def make_program(rng: random.Random, n_statements: int = 3) -> tuple[str, str, int]:
    """A LOLA-style program, its value, and how many statements it has."""
    env: dict[str, int] = {}
    statements = []
    for _ in range(n_statements):
        name = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(2, 4)))
        if env and rng.random() < 0.5:
            other = rng.choice(sorted(env))
            value = rng.randint(1, 20)
            op = rng.choice("+-")
            env[name] = env[other] + value if op == "+" else env[other] - value
            statements.append(f"{name} = ({other} {op} {value})")
        else:
            env[name] = rng.randint(1, 99)
            statements.append(f"{name} = {env[name]}")
    target = rng.choice(sorted(env))
    statements.append(f"print({target})")
    return ";".join(statements), str(env[target]), n_statements


def write_dataset(out: Path, n: int, *, seed: int = 0, statements: tuple[int, ...] = (1, 2, 3), task: str = "lolameme") -> Path:
    rng = random.Random(seed)
    rows = [make_program(rng, rng.choice(statements)) for _ in range(n)]
    with DatasetWriter(out) as writer:
        split = writer.split("train")
        split.write({"input": [r[0] for r in rows], "label": [r[1] for r in rows], "n_statements": [r[2] for r in rows]})
        test = writer.split("test")
        test.write({"input": [r[0] for r in rows[:8]], "label": [r[1] for r in rows[:8]], "n_statements": [r[2] for r in rows[:8]]})
        writer.finish({"task": task, "seed": seed})
    return out
