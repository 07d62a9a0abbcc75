"""Helpers of the analysis tests: hand-built models whose mechanism is known, programs, run directories."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lolameme.models import build_model
from lolameme.tokenizers import get_tokenizer
from lolameme.atomic import atomic_write_json
from lolameme.train.checkpoint import save_checkpoint

#: "c = 4;print(c)": from <sep>, the defining literal sits OFFSET tokens back (char tokenizer).
OFFSET = 10
SMALL_CORPUS = {"dataset_size": 64, "test_dataset_size": 40, "seed": 0, "statement_count": 3,
                "global_var_count": 8, "min_var_length": 1, "max_var_length": 2, "expression_max_depth": 2,
                "global_variables_num_appearance": 0}


def programs(n: int = 40) -> tuple[list[str], list[str]]:
    """Programs ``a = x;b = y;c = z;print(c)`` with one-digit literals: the answer is ``z``."""
    texts, labels = [], []
    for i in range(n):
        x, y, z = (3 * i + 1) % 10, (7 * i + 2) % 10, (i * 9 + 4) % 10
        texts.append(f"a = {x};b = {y};c = {z};print(c)")
        labels.append(str(z))
    return texts, labels


def attention_copier(tok, offset: int = OFFSET, max_len: int = 64) -> nn.Module:
    """A one-layer, one-head GPT-2 whose head attends from every position t to t - offset and copies
    that token into the residual stream, so its answer after ``<sep>`` is the token ``offset`` back.

    Width: positions one-hot in dims [0, max_len), tokens one-hot after them. The query reads the
    position, the key reads the position shifted by ``offset``; the value copies the token part.
    """
    vocab = tok.vocab_size
    width = max_len + vocab
    model = build_model("gpt2:%d" % width, vocab_size=vocab, max_seq_len=max_len, n_head=1,
                        d_embed=width, pos_encoding="learned")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for norm in (model.layers[0].ln_1, model.layers[0].ln_2, model.ln_f):
            norm.weight.fill_(1.0)
        model.position_embedding.weight[:, :max_len] = torch.eye(max_len)
        model.token_embedding.weight[:vocab, max_len:] = torch.eye(vocab)
        qkv = model.layers[0].mixer.qkv.weight                         # [3W, W]
        qkv[:max_len, :max_len] = 4 * torch.eye(max_len)                # query: own position
        shift = torch.diag(torch.ones(max_len - offset), -offset)
        qkv[width:width + max_len, :max_len] = shift                    # key: its position + offset
        qkv[2 * width + max_len:, max_len:] = torch.eye(vocab)          # value: the token
        model.layers[0].mixer.proj.weight[max_len:, max_len:] = 3 * torch.eye(vocab)
    return model.eval()


class ShiftCopy(nn.Module):
    """Layer 0 of :class:`PositionCopier`: writes the token ``offset`` positions back into a slot."""

    def __init__(self, vocab: int, offset: int):
        super().__init__()
        self.vocab, self.offset = vocab, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        copied = torch.zeros_like(x)
        copied[:, self.offset:, self.vocab:2 * self.vocab] = x[:, :-self.offset, :self.vocab]
        return x + copied


class PositionCopier(nn.Module):
    """A two-layer model whose answer depends on one known position and nothing else.

    Layer 0 copies the token ``offset`` back into each position's 'copied' slot; layer 1 does
    nothing. The head predicts the copied token at ``<sep>`` and ``<eos>`` everywhere else. So the
    answer's information sits at the literal's position in stream 0 and at ``<sep>`` from stream 1 on.
    """

    def __init__(self, tok, offset: int = OFFSET):
        super().__init__()
        self.vocab, self.sep_id, self.eos_id = tok.vocab_size, tok.sep_id, tok.eos_id
        self.layers = nn.ModuleList([ShiftCopy(self.vocab, offset), nn.Identity()])

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.one_hot(idx, self.vocab).float()
        x = torch.cat([x, torch.zeros_like(x)], dim=-1)
        for layer in self.layers:
            x = layer(x)
        logits = 12 * x[..., self.vocab:]
        at_sep = x[..., self.sep_id] > 0
        logits[..., self.eos_id] = torch.where(at_sep, logits[..., self.eos_id], torch.full_like(logits[..., 0], 24.0))
        return logits


def make_run(run: Path, data: Path, model_name: str = "gpt2-tiny", tokenizer: str = "char",
             train_extra: dict | None = None, context: int = 128) -> Path:
    """An untrained run directory on ``data``: enough to exercise every measure and every refusal."""
    tok = get_tokenizer(tokenizer)
    run.mkdir(parents=True)
    torch.manual_seed(0)
    model = build_model(model_name, vocab_size=tok.vocab_size, max_seq_len=context)
    tok.save(run / "tokenizer.json")
    atomic_write_json(run / "config.json", {
        "train": {"data": str(data), "reverse_answer": True, **(train_extra or {})},
        "model": model.config.to_dict(), "tokenizer": tokenizer,
        "data": {"dir": str(data), "task": "lolameme"}})
    save_checkpoint(run, model, {"step": 3}, best=True)
    return run
