"""Causal-LM loss computed only where there are labels, in chunks.

``model(..., labels=...)`` in transformers projects every position (padding
and masked prompt tokens too) onto the whole vocabulary and upcasts the result
to float32 before the cross-entropy. With Gemma 3's 262k-entry vocabulary that
output layer costs more than the rest of a 270M model. Here the decoder runs
once, the hidden states of the positions that predict a label are picked out,
and the output layer plus cross-entropy run over them in chunks of
``chunk_tokens`` rows, each chunk recomputed in the backward pass
(``torch.utils.checkpoint``) so that at most one chunk's logits exist at a time.
The value is the same mean over target tokens as transformers' loss (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100
# Config attributes that rescale logits in ways this module does not reproduce:
# such models keep transformers' own loss.
_UNSUPPORTED_HEAD_OPTIONS = ("logit_scale", "logits_scaling", "output_multiplier_scale")


def _unwrap(model):
    """The transformers model under a peft wrapper (its LoRA layers stay in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supports_selective_loss(model) -> bool:
    inner = _unwrap(model)
    config = inner.config
    if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _UNSUPPORTED_HEAD_OPTIONS):
        return False
    decoder = inner.get_decoder() if hasattr(inner, "get_decoder") else None
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    return decoder is not None and decoder is not inner and isinstance(head, torch.nn.Linear)


def _chunk_loss(head: torch.nn.Linear, softcap: float | None, hidden: torch.Tensor,
                targets: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits, targets, reduction="sum")


def causal_lm_loss(model, inputs: dict, chunk_tokens: int = 1024) -> torch.Tensor:
    """Mean next-token cross-entropy over the positions whose label is not ``IGNORE_INDEX``.

    ``inputs`` is what ``Batch.model_inputs`` returns (``labels`` unshifted, as for
    transformers). Models this cannot reproduce exactly fall back to ``model(**inputs).loss``.
    """
    if not supports_selective_loss(model):
        return model(**inputs).loss
    inner = _unwrap(model)
    labels = inputs["labels"]
    forward = {key: value for key, value in inputs.items() if key != "labels"}
    hidden = inner.get_decoder()(**forward).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    picked = hidden[:, :-1][keep]            # (target tokens, hidden size)
    wanted = targets[keep]
    if wanted.numel() == 0:
        return hidden.sum() * 0.0            # no target: a zero loss still connected to the graph
    head = inner.get_output_embeddings()
    softcap = getattr(inner.config, "final_logit_softcapping", None)
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, wanted.numel(), chunk_tokens):
        part, part_targets = picked[start:start + chunk_tokens], wanted[start:start + chunk_tokens]
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_loss, head, softcap, part, part_targets, use_reentrant=False)
        else:
            total = total + _chunk_loss(head, softcap, part, part_targets)
    return total / wanted.numel()
