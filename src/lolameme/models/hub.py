"""Trading models with Hugging Face: ``save_pretrained``/``from_pretrained`` and GPT-2 export.

Any of our models saves as a directory of ``config.json`` (the ModelConfig,
as ``model.config.to_dict()`` writes it) and ``model.safetensors``, the
layout of ``huggingface_hub.PyTorchModelHubMixin``: it loads from a local
directory with the core install, and from (or to) the Hub with the ``hf``
extra. A pure GPT-2 stack also exports to ``transformers``'
``GPT2LMHeadModel`` (:func:`to_transformers_gpt2`), weight for weight, so
any tool that reads GPT-2 checkpoints reads ours; the mapping between the two
(:func:`gpt2_weight_pairs`) is the one the logit-parity test checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lolameme.atomic import atomic_path, atomic_write_json
from lolameme.errors import CheckpointError, ModelError

if TYPE_CHECKING:
    from lolameme.models.stack import StackModel

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


HF_HINT = "pip install 'lolameme[hf]'"


def require_hf(module: str) -> Any:
    """Import a module of the ``hf`` extra (transformers, huggingface_hub), or say in one line how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModelError(f"{module} is not installed; it comes with the hf extra: {HF_HINT}") from None


def save_pretrained(model: "StackModel", directory: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` to ``directory`` (created, or its two files replaced)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_FILE) as temporary:
        save_file(tensors, str(temporary), metadata={"format": "pt"})
    atomic_write_json(directory / CONFIG_FILE, model.config.to_dict(), sort_keys=True)
    return directory


def from_pretrained(source: str | Path, device: str | torch.device = "cpu", revision: str | None = None) -> "StackModel":
    """A model saved by :func:`save_pretrained`: a local directory, else a Hub repository id (``hf`` extra)."""
    from lolameme.models.build import model_from_config

    directory = Path(source)
    if not directory.is_dir():
        if Path(source).exists() or str(source).count("/") != 1:
            raise CheckpointError(f"{source} is not a directory with {CONFIG_FILE} and {WEIGHTS_FILE}, nor a Hub id 'owner/name'")
        hub = require_hf("huggingface_hub")
        directory = Path(hub.snapshot_download(str(source), revision=revision, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE]))
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} has no {name}; was it written by save_pretrained?")
    try:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        tensors = load_file(str(directory / WEIGHTS_FILE), device=str(device))
    except (json.JSONDecodeError, SafetensorError, OSError) as exc:
        raise CheckpointError(f"{directory}: unreadable model files: {exc}") from None
    with torch.device("meta"):  # shapes only: every tensor comes from the file
        model = model_from_config(config)
    missing, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
    if missing or unexpected:
        raise CheckpointError(f"{directory}: weights do not match config.json: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
    return model


def push_to_hub(model: "StackModel", repo_id: str, private: bool = True, token: str | None = None) -> str:
    """Upload the save_pretrained directory to the Hub (``hf`` extra); returns the commit URL."""
    import tempfile

    hub = require_hf("huggingface_hub")
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        save_pretrained(model, scratch)
        return str(api.upload_folder(repo_id=repo_id, folder_path=scratch))


# -- GPT-2 <-> transformers -----------------------------------------------------------------
def _check_gpt2(model: "StackModel") -> None:
    config = model.config
    layers = config.layer_specs
    problems = []
    if {layer.kind for layer in layers} != {"gpt2"}:
        problems.append(f"layers {config.layers!r} are not all gpt2")
    elif {layer.width for layer in layers} != {config.d_embed}:
        problems.append("the layers' widths differ from d_embed (adapters have no GPT-2 counterpart)")
    if config.pos_encoding != "learned":
        problems.append(f"pos_encoding is {config.pos_encoding!r}, GPT-2's is 'learned'")
    if problems:
        raise ModelError(f"only GPT-2-family models export to transformers' GPT2LMHeadModel: {'; '.join(problems)}")


def gpt2_weight_pairs(n_layer: int) -> list[tuple[str, str, bool]]:
    """(our parameter, GPT2LMHeadModel's parameter, transposed?) for every weight; HF's Conv1D stores [in, out]."""
    pairs = [("token_embedding.weight", "transformer.wte.weight", False),
             ("position_embedding.weight", "transformer.wpe.weight", False)]
    for index in range(n_layer):
        ours, theirs = f"layers.{index}", f"transformer.h.{index}"
        for mine, hf, transposed in [("ln_1", "ln_1", False), ("ln_2", "ln_2", False), ("mixer.qkv", "attn.c_attn", True),
                                     ("mixer.proj", "attn.c_proj", True), ("mlp.fc_in", "mlp.c_fc", True),
                                     ("mlp.fc_out", "mlp.c_proj", True)]:
            pairs.append((f"{ours}.{mine}.weight", f"{theirs}.{hf}.weight", transposed))
            pairs.append((f"{ours}.{mine}.bias", f"{theirs}.{hf}.bias", False))
    return pairs + [("ln_f.weight", "transformer.ln_f.weight", False), ("ln_f.bias", "transformer.ln_f.bias", False)]


@torch.no_grad()
def load_transformers_gpt2(ours: "StackModel", theirs: Any) -> None:
    """Copy a GPT2LMHeadModel's weights into our gpt2 stack of the same shape."""
    _check_gpt2(ours)
    mine, source = dict(ours.named_parameters()), dict(theirs.named_parameters())
    for name, hf_name, transposed in gpt2_weight_pairs(ours.config.n_layer):
        value = source[hf_name].t() if transposed else source[hf_name]
        mine[name][: value.shape[0]].copy_(value)  # our embedding may have padding rows


def to_transformers_gpt2(model: "StackModel", tokenizer: Any = None) -> Any:
    """The same network as a ``transformers.GPT2LMHeadModel`` (``hf`` extra); its logits equal ours."""
    transformers = require_hf("transformers")
    _check_gpt2(model)
    config = model.config
    options = config.options("gpt2")
    special = {} if tokenizer is None else {
        "bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id, "pad_token_id": tokenizer.pad_id}
    hf_config = transformers.GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.max_seq_len, n_embd=config.d_embed, n_layer=config.n_layer,
        n_head=options.n_head, n_inner=options.mlp_ratio * config.d_embed, activation_function="gelu_new",
        resid_pdrop=config.dropout, embd_pdrop=config.dropout, attn_pdrop=config.dropout,
        layer_norm_epsilon=config.layer_norm_eps, tie_word_embeddings=True, **special,
    )
    theirs = transformers.GPT2LMHeadModel(hf_config).eval()
    mine, target = dict(model.named_parameters()), dict(theirs.named_parameters())
    with torch.no_grad():
        for name, hf_name, transposed in gpt2_weight_pairs(config.n_layer):
            value = mine[name][: config.vocab_size] if name == "token_embedding.weight" else mine[name]
            target[hf_name].copy_(value.t() if transposed else value)
    return theirs
