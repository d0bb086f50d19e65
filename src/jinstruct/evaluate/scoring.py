"""Log-likelihood of continuations given a context, batched.

Every task reduces to ``Request(context, continuations)``: the log-probability
the model gives each continuation right after the context (classification: one
continuation per label; perplexity: the answer). Context and continuation are
encoded together and the continuation's tokens are read off that joint encoding
(``joint_split``), so a continuation is scored as the tokens it really has after
its prompt. ``score_requests`` runs many requests per forward pass:

- sequences are padded on the right and sorted by length, so padding is small;
- only the positions that predict continuation tokens reach the output layer
  (``logits_to_keep`` with per-row positions), which matters with an 8k+ vocab;
- with ``share_prefix`` the context of a request is run once and its key/value
  cache is copied to each continuation (JNLI: one context, three labels), so a
  long k-shot prompt is not recomputed per label; and the token prefix that all
  contexts share (the prompt header) is run once for the whole task.

``score_one_at_a_time`` is the plain loop (one context + continuation per forward
pass): the reference the tests compare against and the benchmark's baseline.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from jinstruct.progress import progress_bar
from jinstruct.train.data import prompt_tokens_in  # training labels split prompt and answer the same way


@dataclass(frozen=True)
class Request:
    context: str
    continuations: tuple[str, ...]
    # The same prompt with fewer k-shot examples, most first: used in turn when
    # ``context`` does not fit the window, so the header and the item stay whole.
    shorter_contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    logprob: float  # sum of the log-probabilities of the continuation's tokens
    tokens: int     # how many tokens were scored (after fitting into the window)
    chars: int = 0  # characters of text those tokens cover (bits per character)
    bytes: int = 0  # UTF-8 bytes of that text (bits per byte)
    shots_dropped: int = 0  # k-shot examples left out of the prompt to fit the window
    context_cut: int = 0    # context tokens cut from the left (the header was lost)


@dataclass
class _Encoded:
    context: list[int]
    continuations: list[list[int]]
    texts: list[str]         # the text each continuation's tokens cover
    shots_dropped: int = 0   # k-shot examples left out so the prompt fits
    context_cut: int = 0     # tokens cut from the context's left end (only when no shot is left to drop)


def joint_split(context_ids: list[int], joint_ids: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """(shared context tokens, each continuation's tokens) from joint encodings.

    Each continuation is encoded *together with* its context and its tokens are
    the tail of that joint encoding (as lm-evaluation-harness does). Encoding a
    continuation on its own gives tokens it never has after its prompt: with a
    SentencePiece / metaspace tokenizer a leading ``▁`` or a merged ``▁X``.
    The context is the longest token prefix that the context's own encoding and
    every joint encoding share, so ``context + continuation`` is exactly the
    joint encoding; when a token merges across the boundary it is scored as
    part of the continuation.
    """
    shared = len(context_ids)
    for joint in joint_ids:
        shared = min(shared, prompt_tokens_in(context_ids, joint))
    shared = min([shared] + [len(joint) - 1 for joint in joint_ids])  # every continuation keeps a token
    return list(context_ids[:shared]), [list(joint[shared:]) for joint in joint_ids]


def _token_spans(tokenizer, context: str, continuations: tuple[str, ...]):
    """Token ids of the context (with the tokenizer's special prefix) and of context + each continuation."""
    context_ids = tokenizer(context, add_special_tokens=True)["input_ids"]
    joints = tokenizer([context + c for c in continuations], add_special_tokens=True)["input_ids"]
    return context_ids, joints


def _encode(tokenizer, requests: Sequence[Request], max_length: int) -> list[_Encoded]:
    """Joint-encode each request and fit it into ``max_length`` tokens.

    A context too long for the window is replaced by its first shorter form
    that fits (fewer shots); only when none does is its left end cut.
    """
    encoded = []
    for request in requests:
        if any(not c for c in request.continuations):
            raise ValueError("an empty continuation has no log-likelihood")
        candidates = (request.context, *request.shorter_contexts)
        for dropped, context in enumerate(candidates):
            context_ids, joints = _token_spans(tokenizer, context, request.continuations)
            shared, continuations = joint_split(context_ids, joints)
            if not shared:
                raise ValueError(f"the context {context!r} encodes to no tokens of its own: nothing to condition on")
            if len(shared) + max(map(len, continuations)) <= max_length or dropped == len(candidates) - 1:
                break
        texts = [context[len(context) - _tail_chars(tokenizer, context_ids, shared):] + c
                 if len(shared) < len(context_ids) else c for c in request.continuations]
        encoded.append(_fit_window(shared, continuations, texts, max_length, tokenizer, dropped))
    return encoded


def _tail_chars(tokenizer, context_ids: list[int], shared: list[int]) -> int:
    """Characters of context text covered by tokens that merged into the continuation."""
    return len(tokenizer.decode(context_ids[len(shared):], skip_special_tokens=True))


def _fit_window(context: list[int], continuations: list[list[int]], texts: list[str], max_length: int,
                tokenizer, shots_dropped: int) -> _Encoded:
    """Make context + each continuation fit ``max_length`` tokens.

    A continuation keeps at least half the window (its tail beyond is not scored,
    and its text is then what the kept tokens decode to); the context loses
    tokens from its left end.
    """
    context_room = min(len(context), max_length // 2)
    kept = [c[:max_length - context_room] for c in continuations]
    texts = [text if len(k) == len(c) else tokenizer.decode(k, skip_special_tokens=True)
             for text, k, c in zip(texts, kept, continuations, strict=True)]
    longest = max((len(c) for c in kept), default=0)
    keep = max(1, min(len(context), max_length - longest))
    return _Encoded(context[-keep:], kept, texts, shots_dropped, len(context) - keep)


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def _mask(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], dtype=torch.long)


def _token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) at each kept position, without materialising a second vocab-sized tensor."""
    logits = logits.float()
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def _max_length(model, limit: int | None) -> int:
    window = getattr(model.config, "max_position_embeddings", None) or 2048
    return min(window, limit) if limit else window


def _pad_id(tokenizer) -> int:
    # Padded positions are masked and never scored: any valid id will do.
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


@torch.inference_mode()
def _score_flat(model, pad_id: int, sequences: list[tuple[list[int], list[int]]]) -> list[float]:
    """One forward pass over (context, continuation) pairs without a cache."""
    rows = [context + continuation[:-1] for context, continuation in sequences]
    width = max(len(continuation) for _, continuation in sequences)
    positions = [[len(context) - 1 + j for j in range(len(continuation))] + [0] * (width - len(continuation))
                 for context, continuation in sequences]
    targets = _pad([continuation for _, continuation in sequences], pad_id)
    target_mask = _mask([continuation for _, continuation in sequences])
    logits = model(input_ids=_pad(rows, pad_id), attention_mask=_mask(rows), use_cache=False,
                   logits_to_keep=torch.tensor(positions, dtype=torch.long)).logits
    return ((_token_logprobs(logits, targets) * target_mask).sum(dim=1)).tolist()


@dataclass
class _Prefix:
    """Key/value cache of the tokens every context starts with (the prompt header), run once."""
    length: int
    cache: object | None

    def for_batch(self, size: int):
        if self.cache is None:
            return None
        cache = copy.deepcopy(self.cache)  # each batch extends its own copy
        cache.batch_repeat_interleave(size)
        return cache


@torch.inference_mode()
def _common_prefix(model, encoded: list[_Encoded], minimum: int = 8) -> _Prefix:
    """Run the longest token prefix shared by all contexts once (every context keeps at least one own token)."""
    contexts = [e.context for e in encoded]
    shortest = min(len(c) for c in contexts)
    length = 0
    while length < shortest - 1 and all(c[length] == contexts[0][length] for c in contexts):
        length += 1
    if length < minimum:  # not worth a separate pass
        return _Prefix(0, None)
    out = model(input_ids=torch.tensor([contexts[0][:length]], dtype=torch.long), use_cache=True, logits_to_keep=1)
    return _Prefix(length, out.past_key_values)


@torch.inference_mode()
def _score_shared(model, pad_id: int, group: list[_Encoded], prefix: _Prefix) -> list[list[float]]:
    """Run each context once (after the shared prefix), then every continuation on a copy of its cache."""
    suffixes = [encoded.context[prefix.length:] for encoded in group]
    prefix_mask = torch.ones(len(group), prefix.length, dtype=torch.long)
    context_mask = torch.cat([prefix_mask, _mask(suffixes)], dim=1)
    width = max(len(s) for s in suffixes)
    last = torch.tensor([[len(s) - 1] for s in suffixes], dtype=torch.long)
    out = model(input_ids=_pad(suffixes, pad_id), attention_mask=context_mask, use_cache=True, logits_to_keep=last,
                past_key_values=prefix.for_batch(len(group)),
                position_ids=(prefix.length + torch.arange(width)).unsqueeze(0).expand(len(group), -1))
    first = torch.log_softmax(out.logits[:, 0, :].float(), dim=-1)  # (requests, vocab)

    owners = [i for i, encoded in enumerate(group) for _ in encoded.continuations]
    continuations = [c for encoded in group for c in encoded.continuations]
    totals = [first[owner, continuation[0]].item() for owner, continuation in zip(owners, continuations, strict=True)]
    tails = [c[1:] for c in continuations]
    if any(tails):
        cache = out.past_key_values
        cache.batch_select_indices(torch.tensor(owners, dtype=torch.long))
        inputs = [c[:-1] for c in continuations]  # token j predicts token j + 1
        width = max(len(row) for row in inputs)
        starts = torch.tensor([len(group[o].context) for o in owners], dtype=torch.long)
        position_ids = starts.unsqueeze(1) + torch.arange(width).unsqueeze(0)
        attention = torch.cat([context_mask[owners], _mask(inputs)], dim=1)
        logits = model(input_ids=_pad(inputs, pad_id), attention_mask=attention, position_ids=position_ids,
                       past_key_values=cache, use_cache=True).logits
        tail_sum = (_token_logprobs(logits, _pad(tails, pad_id)) * _mask(tails)).sum(dim=1)
        totals = [total + extra for total, extra in zip(totals, tail_sum.tolist(), strict=True)]
    result, offset = [], 0
    for encoded in group:
        result.append(totals[offset:offset + len(encoded.continuations)])
        offset += len(encoded.continuations)
    return result


def score_requests(model, tokenizer, requests: Sequence[Request], batch_size: int = 32,
                   max_length: int | None = None, share_prefix: bool = True,
                   desc: str = "scoring") -> list[list[Score]]:
    """Log-likelihood of every continuation of every request, ``batch_size`` sequences per pass."""
    model.eval()
    window = _max_length(model, max_length)
    encoded = _encode(tokenizer, requests, window)
    pad_id = _pad_id(tokenizer)
    results: list[list[Score] | None] = [None] * len(requests)
    # Longest first: equal lengths share a batch (little padding) and memory peaks at once, early.
    order = sorted(range(len(requests)),
                   key=lambda i: (-len(encoded[i].context) - max(map(len, encoded[i].continuations)), i))
    with progress_bar(desc, total=sum(len(r.continuations) for r in requests), unit="choice") as bar:
        if share_prefix:
            prefix = _common_prefix(model, encoded)
            for group in _groups(order, encoded, batch_size):
                scores = _score_shared(model, pad_id, [encoded[i] for i in group], prefix)
                for i, logprobs in zip(group, scores, strict=True):
                    results[i] = [_score(lp, encoded[i], j) for j, lp in enumerate(logprobs)]
                    bar.update(len(logprobs))
        else:
            flat = [(i, j) for i in order for j in range(len(encoded[i].continuations))]
            partial: dict[int, list[Score]] = {i: [] for i in order}
            for start in range(0, len(flat), batch_size):
                chunk = flat[start:start + batch_size]
                logprobs = _score_flat(model, pad_id, [(encoded[i].context, encoded[i].continuations[j])
                                                       for i, j in chunk])
                for (i, j), lp in zip(chunk, logprobs, strict=True):
                    partial[i].append(_score(lp, encoded[i], j))
                bar.update(len(chunk))
            for i, scores in partial.items():
                results[i] = scores
    return results  # type: ignore[return-value]


def _score(logprob: float, encoded: _Encoded, index: int) -> Score:
    text = encoded.texts[index]
    return Score(logprob, len(encoded.continuations[index]), len(text), len(text.encode("utf-8")),
                 encoded.shots_dropped, encoded.context_cut)


def _groups(order: list[int], encoded: list[_Encoded], batch_size: int):
    """Whole requests per group, about ``batch_size`` continuations in each."""
    group: list[int] = []
    size = 0
    for i in order:
        group.append(i)
        size += len(encoded[i].continuations)
        if size >= batch_size:
            yield group
            group, size = [], 0
    if group:
        yield group


@torch.inference_mode()
def score_one_at_a_time(model, tokenizer, requests: Sequence[Request], max_length: int | None = None,
                        desc: str = "scoring (one at a time)") -> list[list[Score]]:
    """The unbatched loop: one forward pass per (context, continuation), full logits."""
    model.eval()
    window = _max_length(model, max_length)
    results = []
    with progress_bar(desc, total=sum(len(r.continuations) for r in requests), unit="choice") as bar:
        for encoded in _encode(tokenizer, requests, window):
            scores = []
            for j, continuation in enumerate(encoded.continuations):
                ids = torch.tensor([encoded.context + continuation], dtype=torch.long)
                logprobs = torch.log_softmax(model(input_ids=ids, use_cache=False).logits[0].float(), dim=-1)
                start = len(encoded.context)
                picked = logprobs[start - 1:start - 1 + len(continuation)].gather(
                    -1, torch.tensor(continuation).unsqueeze(-1))
                scores.append(_score(picked.sum().item(), encoded, j))
                bar.update(1)
            results.append(scores)
    return results
