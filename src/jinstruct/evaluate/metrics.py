"""Classification scores from per-choice log-likelihoods."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from jinstruct.evaluate.fewshot import Item
from jinstruct.evaluate.scoring import Score


def _argmax(values: Sequence[float]) -> int:
    # Ties go to the first choice: deterministic, and no choice order is favoured by the data.
    return max(range(len(values)), key=lambda i: (values[i], -i))


def classification_scores(items: Sequence[Item], scores: Sequence[Sequence[Score]],
                          label_names: Sequence[str]) -> dict:
    """acc, length-normalised acc, macro-F1 and the confusion matrix (gold -> predicted -> n).

    ``acc_norm`` divides each choice's log-likelihood by its length in characters,
    as lm-evaluation-harness does with bytes (tokenizer-independent, so models
    with different vocabularies stay comparable). When all choices have the same
    length (JNLI's 含意/矛盾/中立) it equals ``acc``. ``label_names`` name the
    choice positions (JNLI: the labels; JCommonsenseQA: choice0..choice4).
    """
    n = len(items)
    if n == 0:
        raise ValueError("no items to score")
    predicted = [_argmax([s.logprob for s in row]) for row in scores]
    predicted_norm = [_argmax([s.logprob / max(1, len(c)) for s, c in zip(row, item.choices, strict=True)])
                      for row, item in zip(scores, items, strict=True)]
    gold = [item.gold for item in items]
    correct = sum(p == g for p, g in zip(predicted, gold, strict=True))
    confusion = {g: {p: 0 for p in label_names} for g in label_names}
    for g, p in zip(gold, predicted, strict=True):
        confusion[label_names[g]][label_names[p]] += 1
    low, high = wilson_interval(correct, n)
    flat = [score for row in scores for score in row]
    return {
        "acc": correct / n,
        "acc_ci95": {"low": low, "high": high},
        "acc_norm": sum(p == g for p, g in zip(predicted_norm, gold, strict=True)) / n,
        "macro_f1": macro_f1(confusion),
        "confusion": confusion,
        "prompts_with_fewer_shots": sum(row[0].shots_dropped > 0 for row in scores),
        "prompts_cut": sum(row[0].context_cut > 0 for row in scores),
        "choice_tokens_mean": sum(s.tokens for s in flat) / len(flat),
    }


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (Wilson 1927; stays inside [0, 1] and
    behaves at small n or near 0/1, unlike the normal approximation)."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def chance_baseline(items: Sequence[Item]) -> float:
    """Expected accuracy of picking a choice uniformly at random."""
    return sum(1 / len(item.choices) for item in items) / len(items)


def verdict(interval: dict, majority: float) -> str:
    """Words for the report and the CLI: does the accuracy tell the model from always answering the majority?"""
    if interval["low"] > majority:
        return "above the majority baseline"
    if interval["high"] < majority:
        return "below the majority baseline"
    return "no signal (the 95% interval includes the majority baseline)"


def macro_f1(confusion: dict[str, dict[str, int]]) -> float:
    """Unweighted mean of per-label F1 (a label never predicted nor present scores 0)."""
    labels = list(confusion)
    f1s = []
    for label in labels:
        true_positive = confusion[label][label]
        predicted = sum(confusion[g][label] for g in labels)
        actual = sum(confusion[label].values())
        denominator = predicted + actual
        f1s.append(2 * true_positive / denominator if denominator else 0.0)
    return sum(f1s) / len(f1s)


def majority_baseline(items: Sequence[Item]) -> dict:
    """Accuracy of always answering the most frequent gold label of the scored items."""
    counts = Counter(item.label for item in items)
    label, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"label": label, "acc": count / len(items)}
