"""The optimisation loop shared by tiny-model pretraining and LoRA tuning.

A plain PyTorch loop over pre-built batches: AdamW, linear warm-up then linear
decay, gradient accumulation and clipping, optional autocast. The loss is
computed only at labelled positions, in chunks (loss.py). It is small on
purpose: no hidden dataloader workers or padding to max_length, so CPU time
goes to the model (bench/train_bench.py compares it with transformers.Trainer).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from jinstruct.progress import progress_bar
from jinstruct.train.data import IGNORE_INDEX, Batch
from jinstruct.train.loss import causal_lm_loss


@dataclass
class LoopSettings:
    lr: float
    max_steps: int = 0          # optimizer steps; 0 = run `epochs` passes over the batches
    epochs: float = 1.0
    grad_accum: int = 1
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    device: str = "cpu"
    autocast_dtype: torch.dtype | None = None


@dataclass
class LoopResult:
    losses: list[float] = field(default_factory=list)  # one mean loss per optimizer step
    tokens_seen: int = 0                               # non-padding tokens through the model
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.seconds if self.seconds else 0.0


def pick_device(wanted: str = "auto") -> str:
    if wanted != "auto":
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def autocast_dtype(device: str, bf16: bool | str = "auto") -> torch.dtype | None:
    """bf16 autocast on a GPU that supports it; CPUs without bf16 units run slower with it."""
    if bf16 is False:
        return None
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if bf16 is True:
        return torch.bfloat16
    return None


def total_steps(batch_count: int, settings: LoopSettings) -> int:
    if settings.max_steps and settings.max_steps > 0:
        return int(settings.max_steps)
    return max(1, math.ceil(batch_count * settings.epochs / settings.grad_accum))


def _schedule(optimizer, warmup: int, steps: int):
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _batch_stream(batches: list[Batch], seed: int):
    """The batches over and over, reshuffled (seeded) for each pass after the first."""
    epoch = 0
    while True:
        order = list(range(len(batches)))
        if epoch:
            random.Random(seed + epoch).shuffle(order)
        for index in order:
            yield batches[index]
        epoch += 1


def train(model: torch.nn.Module, batches: list[Batch], settings: LoopSettings,
          on_step: Callable[[int, float, float], None] | None = None, desc: str = "train") -> LoopResult:
    """Run the optimizer steps; ``on_step(step, loss, lr)`` after each one."""
    if not batches:
        raise ValueError("no batches to train on")
    torch.manual_seed(settings.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
    steps = total_steps(len(batches), settings)
    scheduler = _schedule(optimizer, settings.warmup_steps, steps)
    cast = (torch.autocast(settings.device, dtype=settings.autocast_dtype)
            if settings.autocast_dtype is not None else nullcontext())
    stream = _batch_stream(batches, settings.seed)
    result = LoopResult()
    model.train()
    bar = progress_bar(desc, total=steps, unit="step")
    started = time.perf_counter()
    for step in range(1, steps + 1):
        step_loss = 0.0
        for _ in range(settings.grad_accum):
            batch = next(stream)
            with cast:
                loss = causal_lm_loss(model, batch.model_inputs(settings.device)) / settings.grad_accum
            loss.backward()
            step_loss += float(loss.detach())
            result.tokens_seen += batch.real_tokens
        if settings.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(trainable, settings.max_grad_norm)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        result.losses.append(step_loss)
        bar.update(1)
        if on_step is not None:
            on_step(step, step_loss, lr)
    result.seconds = time.perf_counter() - started
    bar.close()
    return result


@torch.no_grad()
def mean_loss(model: torch.nn.Module, batches: list[Batch], device: str = "cpu",
              dtype: torch.dtype | None = None) -> float:
    """Token-weighted mean cross-entropy over the target tokens of ``batches``."""
    model.eval()
    cast = torch.autocast(device, dtype=dtype) if dtype is not None else nullcontext()
    total, count = 0.0, 0
    for batch in batches:
        targets = int((batch.labels[:, 1:] != IGNORE_INDEX).sum())  # the model shifts labels by one
        if not targets:
            continue
        with cast:
            loss = causal_lm_loss(model, batch.model_inputs(device))
        total += float(loss) * targets
        count += targets
    model.train()
    return total / count if count else float("nan")
