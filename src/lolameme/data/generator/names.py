"""The corpus vocabulary: global and local variable names, and the globals' values.

A corpus has GLOBAL_VAR_COUNT global names, each with one fixed value, and
LOCAL_VAR_COUNT local names shared by all programs (paper D.1.2, D.1.3). Names
are drawn in canonical camelCase form, which is their identity
(docs/language.md); MeMe spells the same name in snake_case.

How a random name is drawn (paper A.1):

* its length is uniform in [min_var_length, max_var_length] letters (the
  letters of the canonical form; a snake spelling adds underscores);
* its first letter carries the latent type: with probability p_A from type A's
  letters, with p_B from type B's, else from type C's, where an empty type C
  (the base config: C = nothing after 'z') hands its share to the whole
  alphabet a-z. Inside a type the letter is uniform;
* every later letter is uniform in a-z and capitalised with probability
  VAR_NAME_UNDERSCORE_PROBABILITY (a capital is an underscore + lowercase
  letter in the snake spelling, so one probability serves both cases).

Names are unique in canonical form across globals and locals, and never
``print``. With USE_FAKER, a name is built from real English words of
Faker's lorem word list (an optional extra) instead of random letters.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from lolameme.data.generator.config import GeneratorConfig
from lolameme.errors import ConfigError
from lolameme.lang.names import RESERVED, to_snake

LETTERS = np.array(list(string.ascii_lowercase))
FAKER_HINT = "use_faker needs the optional package 'faker': pip install 'lolameme[faker]' (or pip install faker)"


@dataclass(frozen=True)
class Vocabulary:
    """Names and values of one corpus; index i < n_locals is a local, the rest are globals."""

    names: tuple[str, ...]          # canonical camelCase; locals first, then globals
    n_locals: int
    global_values: tuple[int, ...]  # one per global, in order

    @property
    def n_globals(self) -> int:
        return len(self.names) - self.n_locals

    @property
    def local_names(self) -> tuple[str, ...]:
        return self.names[: self.n_locals]

    @property
    def global_names(self) -> tuple[str, ...]:
        return self.names[self.n_locals:]

    @property
    def snake_names(self) -> tuple[str, ...]:
        return tuple(to_snake(name) for name in self.names)

    def globals_table(self) -> dict[str, int]:
        """``{canonical name: value}``: the table the interpreter reads globals from."""
        return dict(zip(self.global_names, self.global_values))


def first_letter_distribution(config: GeneratorConfig) -> np.ndarray:
    """P(first letter = a..z) from the latent boundaries and type probabilities."""
    p_a, p_b = config.latent_type_probability
    bounds = (0, config.latent_boundary_a, config.latent_boundary_b, 26)
    shares = (p_a, p_b, 1.0 - p_a - p_b)
    probs = np.zeros(26)
    for (start, stop), share in zip(zip(bounds, bounds[1:]), shares):
        if stop > start:
            probs[start:stop] += share / (stop - start)
        else:  # an empty type hands its share to the whole alphabet (config.py rejects empty A/B with p > 0)
            probs += share / 26
    return probs / probs.sum()


def build_vocabulary(config: GeneratorConfig, rng: np.random.Generator) -> Vocabulary:
    """Draw the corpus's names (locals first) and the globals' fixed values."""
    wanted = config.local_var_count + config.global_var_count
    draw = _faker_names if config.use_faker else _random_names
    names = draw(config, wanted, rng)
    values = rng.integers(config.min_int_value, config.max_int_value + 1, size=config.global_var_count)
    return Vocabulary(tuple(names), config.local_var_count, tuple(int(v) for v in values))


def _accept(candidates: list[str], names: list[str], seen: set[str], wanted: int) -> None:
    for name in candidates:
        if len(names) == wanted:
            return
        if name not in seen and name != RESERVED:
            seen.add(name)
            names.append(name)


def _random_names(config: GeneratorConfig, wanted: int, rng: np.random.Generator) -> list[str]:
    low, high = config.var_length_bounds
    first = first_letter_distribution(config)
    names: list[str] = []
    seen: set[str] = set()
    for _ in range(1000):  # config.py guarantees at least twice as many possible names as wanted
        if len(names) == wanted:
            return names
        batch = max(64, 2 * (wanted - len(names)))
        lengths = rng.integers(low, high + 1, size=batch)
        letters = rng.choice(LETTERS, size=(batch, high))
        letters[:, 0] = rng.choice(LETTERS, size=batch, p=first)
        capital = rng.random((batch, high)) < config.var_name_underscore_probability
        capital[:, 0] = False
        letters = np.where(capital, np.char.upper(letters), letters)
        _accept(["".join(row[:n]) for row, n in zip(letters.tolist(), lengths.tolist())], names, seen, wanted)
    raise ConfigError(f"could not draw {wanted} distinct names of length {low}..{high}; allow longer names")


def _faker_words() -> list[str]:
    try:
        from faker.providers.lorem.en_US import Provider
    except ImportError:
        raise ConfigError(FAKER_HINT) from None
    return sorted({w.lower() for w in Provider.word_list if w.isascii() and w.isalpha()})


def _faker_names(config: GeneratorConfig, wanted: int, rng: np.random.Generator) -> list[str]:
    """Names from real words: ``word`` or ``wordWord`` (camel) within the length bounds.

    The first word is chosen so that its first letter follows the latent-type
    distribution, like random names; later words start with a capital (an
    underscore in snake case) with probability VAR_NAME_UNDERSCORE_PROBABILITY,
    and are otherwise glued on in lowercase.
    """
    words = _faker_words()
    low, high = config.var_length_bounds
    by_letter: dict[str, list[str]] = {}
    for word in words:
        if len(word) <= high:
            by_letter.setdefault(word[0], []).append(word)
    short = [w for w in words if len(w) <= high]
    first = first_letter_distribution(config)
    names: list[str] = []
    seen: set[str] = set()
    for _ in range(200 * max(1, wanted)):
        if len(names) == wanted:
            return names
        letter = str(rng.choice(LETTERS, p=first))
        if letter not in by_letter:
            continue
        name = by_letter[letter][int(rng.integers(len(by_letter[letter])))]
        while len(name) < low or (len(name) < high and rng.random() < 0.5):
            word = short[int(rng.integers(len(short)))]
            if len(name) + len(word) > high:
                break
            capital = rng.random() < config.var_name_underscore_probability
            name += word.capitalize() if capital else word
        if low <= len(name) <= high:
            _accept([name], names, seen, wanted)
    raise ConfigError(f"Faker's word list gave only {len(names)} distinct names of length {low}..{high}, "
                      f"{wanted} wanted; widen the length bounds or use fewer variables")
