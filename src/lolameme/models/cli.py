"""``lolameme models``: the preset table, or one model's layers.

Models are built on the meta device (shapes only, no memory, no init), so
even the paper presets are counted in a fraction of a second each.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lolameme.errors import ModelError

CPU_SCALE_VOCAB = 128  # a character-level vocabulary; the CPU presets take theirs from the tokenizer


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the top-level app."""
    app.command("models")(models)


def models(
    name: Optional[str] = typer.Argument(None, help="a preset name or a layer specification such as 'hyena:864*9,gpt2:768,hyena:864*8'; omit to list every preset"),
    vocab_size: Optional[int] = typer.Option(None, "--vocab-size", help=f"vocabulary size (paper presets default to 50257; others are counted at {CPU_SCALE_VOCAB})"),
    set_: List[str] = typer.Option([], "--set", help="override one ModelConfig field: key=value (repeatable)"),
    check_causal: bool = typer.Option(False, "--check-causal", help="also check that every mixer of the model only looks at the past"),
) -> None:
    """List the model presets with exact parameter counts, or show one model layer by layer."""
    from rich.console import Console

    overrides = _parse_overrides(set_)
    console = Console()
    if name is None:
        console.print(_preset_table(vocab_size, overrides))
    else:
        console.print(_layer_table(name, vocab_size, overrides))
    if check_causal and name is not None:
        _check_causal(name, vocab_size, overrides)
        typer.echo("causal: every mixer's outputs up to t ignore its inputs after t")


def _check_causal(name: str, vocab_size: int | None, overrides: dict[str, object]) -> None:
    """Run :func:`lolameme.models.check_causal` on each family of the model, at its own options."""
    from lolameme.models.causality import check_causal

    config = _meta_model(name, vocab_size, overrides).config
    for kind in config.mixers:
        width = next(layer.width for layer in config.layer_specs if layer.kind == kind)
        check_causal(kind, width=width, seq_len=min(config.max_seq_len, 16), **config.mixers[kind])


def _parse_overrides(items: list[str]) -> dict[str, object]:
    import yaml

    from lolameme.configfile import parse_value, yaml_problem

    overrides: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ModelError(f"--set {item!r}: expected key=value, e.g. --set max_seq_len=256")
        try:
            overrides[key.strip()] = parse_value(value)  # numbers and booleans as such
        except (yaml.YAMLError, RecursionError) as exc:
            raise ModelError(f"--set {item!r}: value is not valid YAML ({yaml_problem(exc)})") from None
    return overrides


def _meta_model(name: str, vocab_size: int | None, overrides: dict[str, object]):
    import torch

    from lolameme.models.build import resolve_config
    from lolameme.models.presets import preset_config
    from lolameme.models.stack import StackModel

    preset = preset_config(name)
    if vocab_size is None and (preset is None or preset.get("vocab_size") is None):
        vocab_size = CPU_SCALE_VOCAB
    config = resolve_config(name, vocab_size, **overrides)
    with torch.device("meta"):
        return StackModel(config)


def _shape(config) -> str:
    """One line: layers, each family's options that differ from its defaults, embedding width, context, positions, vocab."""
    from lolameme.models.registry import get_mixer

    heads = ""
    for kind, options in config.mixers.items():
        defaults = get_mixer(kind).resolve({}).model_dump()
        changed = [f"{key}={value}" for key, value in options.items() if defaults.get(key) != value]
        heads += f", {kind} {' '.join(changed)}" if changed else ""
    vocab = f"{config.vocab_size}" + (f" (→{config.padded_vocab_size})" if config.padded_vocab_size != config.vocab_size else "")
    return (
        f"{config.layers}; d_embed {config.d_embed}{heads}; ctx {config.max_seq_len}; "
        f"pos {config.pos_encoding}; vocab {vocab}; dropout {config.dropout:g}"
    )


def _preset_table(vocab_size: int | None, overrides: dict[str, object]):
    from rich.table import Table

    from lolameme.models.build import list_presets

    table = Table(title=f"model presets (tiny/small counted at vocab_size={vocab_size or CPU_SCALE_VOCAB}; --vocab-size to change)")
    for column, justify in (("preset", "left"), ("parameters", "right"), ("shape", "left")):
        table.add_column(column, justify=justify)
    for name, _ in list_presets():
        model = _meta_model(name, vocab_size, overrides)
        table.add_row(name, f"{model.num_parameters():,}", _shape(model.config))
    return table


def _layer_table(name: str, vocab_size: int | None, overrides: dict[str, object]):
    from rich.table import Table

    model = _meta_model(name, vocab_size, overrides)
    table = Table(title=f"{name}: {model.num_parameters():,} parameters; {_shape(model.config)}")
    for column, justify in (("module", "left"), ("kind", "left"), ("width", "right"), ("parameters", "right")):
        table.add_column(column, justify=justify)

    def count(module) -> str:
        return f"{sum(p.numel() for p in module.parameters()):,}"

    table.add_row("token_embedding", "embedding (tied head)", str(model.config.d_embed), count(model.token_embedding))
    if model.position_embedding is not None:
        table.add_row("position_embedding", "embedding", str(model.config.d_embed), count(model.position_embedding))
    for index, block in enumerate(model.layers):
        adapter = model.adapters[f"into_{index}"] if f"into_{index}" in model.adapters else None
        if adapter is not None:
            table.add_row(f"adapters.into_{index}", "linear adapter", f"{adapter.in_features}→{adapter.out_features}", count(adapter))
        table.add_row(f"layers.{index}", block.kind, str(block.width), count(block))
    if "into_head" in model.adapters:
        adapter = model.adapters["into_head"]
        table.add_row("adapters.into_head", "linear adapter", f"{adapter.in_features}→{adapter.out_features}", count(adapter))
    table.add_row("ln_f", "layer norm", str(model.config.d_embed), count(model.ln_f))
    return table
