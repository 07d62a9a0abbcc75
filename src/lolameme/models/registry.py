"""The mixer registry: every sequence mixer a layer specification can name.

A *mixer* is the part of a block that moves information along the sequence
(attention, Hyena, Mamba, yours). Each is described by one :class:`Mixer`:
its options (a pydantic model, validated once), how to build it for one
layer, its forward FLOPs per token, and which of its weights write into the
residual stream (those get GPT-2's scaled initialisation). The block around
it (LayerNorm, residual, MLP) is shared, so a mixer is all a new family needs.

``MIXERS`` is the one dict of built-in families, name -> module; the module
defines ``MIXER`` and is imported on first use, so naming a family (parsing
a layer specification, validating an experiment) never imports torch.
Beyond the built-ins, a layer specification can name:

* ``package.module:ClassName`` -- any ``nn.Module`` class importable from
  Python (the current directory is searched too), built as
  ``ClassName(width, **options)`` with ``forward(x: [B, T, width]) -> [B, T, width]``;
* a name registered through the entry-point group ``lolameme.mixers``, whose
  value is such a class or a :class:`Mixer` (``pip install`` your package and
  its name works everywhere a built-in's does);
* a name passed to :func:`register_mixer` in the running process.

Optional class attributes of a user's class: ``residual_projections``
(parameter names inside the mixer, e.g. ``("out.weight",)``), ``mlp_ratio``
(the block's MLP width as a multiple of the layer width, default 4; 0 for
no MLP) and ``flops(width, seq_len) -> float`` (forward FLOPs per token;
without it, 2 per mixer parameter, the count of a mixer made of matmuls).
A mixer's method ``post_init()``, if any, runs after the stack's GPT-2
initialisation (which sets every Linear weight ~ N(0, 0.02) and bias to 0).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from lolameme.errors import ModelError
from lolameme.validation import validation_problems

if TYPE_CHECKING:
    from torch import nn

    from lolameme.models.config import ModelConfig

ENTRY_POINT_GROUP = "lolameme.mixers"

#: The built-in families: name -> the module defining ``MIXER``.
MIXERS: dict[str, str] = {
    "gpt2": "lolameme.models.attention",
    "hyena": "lolameme.models.hyena",
    "mamba": "lolameme.models.mamba",
}

_CLASS_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")


@dataclasses.dataclass(frozen=True)
class Mixer:
    """One sequence-mixer family, everything the stack, presets and FLOP counter need of it.

    ``build(width, options, config)`` returns the mixer of one layer (an
    ``nn.Module`` mapping [B, T, width] to [B, T, width], causal);
    ``flops(width, options, config, seq_len, batch_size)`` its forward FLOPs per
    token; ``check(width, options, config)`` raises ModelError for a layer the
    family cannot build (e.g. heads not dividing the width). ``options`` must
    have an ``mlp_ratio`` field: the block's MLP width over the layer width (0: no MLP).
    """

    name: str
    options: type[BaseModel]
    build: Callable[[int, Any, "ModelConfig"], "nn.Module"]
    flops: Callable[[int, Any, "ModelConfig", int, int], float]
    residual_projections: tuple[str, ...] = ()
    check: Callable[[int, Any, "ModelConfig"], None] | None = None
    in_paper: bool = False
    about: str = ""
    label: str = ""  # how reports name the family ("GPT-2"); the name when empty

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def resolve(self, values: dict[str, Any] | None) -> BaseModel:
        """Validated options (defaults filled in); a ModelError names the family and the problem."""
        try:
            return self.options.model_validate(values or {})
        except ValidationError as exc:
            accepted = ", ".join(self.options.model_fields)
            raise ModelError(
                f"model config: {self.name} options are invalid: {validation_problems(exc)} (accepted options: {accepted})"
            ) from None


_registered: dict[str, Mixer] = {}  # register_mixer and entry points, by name
_loaded: dict[str, Mixer] = {}  # every Mixer looked up so far, by the name a spec uses


def register_mixer(mixer: "Mixer | type", name: str | None = None) -> Mixer:
    """Make ``mixer`` (a :class:`Mixer` or an ``nn.Module`` class) nameable in layer specifications."""
    if not isinstance(mixer, Mixer):
        mixer = mixer_from_class(mixer, name or getattr(mixer, "__name__", ""))
    name = name or mixer.name
    if not _NAME.match(name) or name in MIXERS:
        raise ModelError(f"cannot register mixer {name!r}: a name is letters, digits and '_', and not a built-in ({', '.join(MIXERS)})")
    mixer = dataclasses.replace(mixer, name=name)
    _registered[name] = _loaded[name] = mixer
    return mixer


def mixer_names() -> list[str]:
    """Built-in families, then registered ones (entry points included)."""
    return [*MIXERS, *sorted(set(_registered) | set(_entry_points()))]


def is_mixer_name(kind: str) -> bool:
    """Whether ``kind`` can name a mixer in a layer spec, without importing anything heavy."""
    return kind in MIXERS or kind in _registered or bool(_CLASS_REF.match(kind)) or kind in _entry_points()


def get_mixer(kind: str) -> Mixer:
    """The :class:`Mixer` a layer specification's ``kind`` names (see the module docstring)."""
    if kind in _loaded:
        return _loaded[kind]
    if kind in MIXERS:
        mixer = importlib.import_module(MIXERS[kind]).MIXER
    elif kind in _entry_points():
        mixer = _from_entry_point(kind)
    elif _CLASS_REF.match(kind):
        mixer = mixer_from_class(_import_class(kind), kind)
    else:
        raise ModelError(f"unknown mixer {kind!r}; accepted: {', '.join(mixer_names())}, or package.module:ClassName")
    _loaded[kind] = mixer
    return mixer


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def _from_entry_point(name: str) -> Mixer:
    point = _entry_points()[name]
    try:
        value = point.load()
    except Exception as exc:  # a broken plugin is reported, not raised from deep inside
        raise ModelError(f"mixer {name!r} (entry point {point.value!r} in group {ENTRY_POINT_GROUP}) cannot be loaded: {exc}") from None
    if isinstance(value, Mixer):
        return dataclasses.replace(value, name=name)
    return mixer_from_class(value, name)


def _import_class(reference: str) -> type:
    """``package.module:ClassName`` -> the class; the current directory is searched after sys.path."""
    module_name, _, class_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] or os.getcwd() in sys.path:
            raise ModelError(f"mixer {reference!r}: cannot import module {module_name!r}: {exc}") from None
        sys.path.append(os.getcwd())  # like `python -m`: a file next to you is importable
        return _import_class(reference)
    except Exception as exc:
        raise ModelError(f"mixer {reference!r}: importing module {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    found = getattr(module, class_name, None)
    if found is None:
        raise ModelError(f"mixer {reference!r}: module {module_name!r} ({module.__file__}) has no class {class_name!r}")
    return found


def mixer_from_class(cls: Any, name: str) -> Mixer:
    """Describe a user's ``nn.Module`` class as a :class:`Mixer` (its options from its signature)."""
    from torch import nn

    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ModelError(f"mixer {name!r} must be a torch.nn.Module subclass (or a lolameme Mixer), got {cls!r}")
    options = _options_model(cls, name)

    def build(width: int, values: BaseModel, config: "ModelConfig") -> nn.Module:
        kwargs = values.model_dump(exclude={"mlp_ratio"})
        try:
            return cls(width, **kwargs)
        except Exception as exc:  # the user's code failed: say where, without a traceback
            raise ModelError(f"mixer {name!r}: {cls.__name__}({width}, **{kwargs}) failed: {type(exc).__name__}: {exc}") from None

    def flops(width: int, values: BaseModel, config: "ModelConfig", seq_len: int, batch_size: int) -> float:
        if hasattr(cls, "flops"):
            return float(cls.flops(width, seq_len))
        import torch

        with torch.device("meta"):  # 2 per parameter: exact for matmuls, a floor otherwise
            return 2.0 * sum(p.numel() for p in build(width, values, config).parameters())

    return Mixer(
        name=name,
        options=options,
        build=build,
        flops=flops,
        residual_projections=tuple(getattr(cls, "residual_projections", ())),
        about=(cls.__doc__ or "").strip().split("\n")[0],
    )


def _signature_error(cls: type, name: str, why: str) -> ModelError:
    return ModelError(
        f"mixer {name!r} has the wrong signature: {why}; a mixer class is built as "
        f"{cls.__name__}(width, **options) and called as forward(x) with x of shape [batch, seq_len, width]"
    )


def _options_model(cls: type, name: str) -> type[BaseModel]:
    """A pydantic model of the constructor's keyword options (after ``width``), plus ``mlp_ratio``."""
    try:
        init = list(inspect.signature(cls).parameters.values())
        forward = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError) as exc:
        raise _signature_error(cls, name, str(exc)) from None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not init or init[0].kind not in positional:
        raise _signature_error(cls, name, f"its constructor {cls.__name__}{inspect.signature(cls)} takes no width")
    required = [p for p in forward if p.default is inspect.Parameter.empty and p.kind in positional]
    if not forward or len(required) > 1 or forward[0].kind not in positional:
        raise _signature_error(cls, name, f"forward{inspect.signature(cls.forward)} does not take exactly one input")
    fields: dict[str, Any] = {"mlp_ratio": (int, getattr(cls, "mlp_ratio", 4))}
    for parameter in init[1:]:
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if parameter.default is inspect.Parameter.empty:
            raise _signature_error(cls, name, f"constructor parameter {parameter.name!r} after width has no default")
        annotation = parameter.annotation
        if not isinstance(annotation, type) or annotation is inspect.Parameter.empty:
            annotation = Any  # unannotated, or a string annotation (postponed evaluation)
        fields[parameter.name] = (annotation, parameter.default)
    return create_model(f"{cls.__name__}Options", __config__=ConfigDict(extra="forbid"), **fields)
