"""The few scores `dvc exp show` lists for an experiment (metrics/scores.json).

metrics/eval.json holds everything the evaluate stage measured (confusion
matrices, per-task perplexities, deltas, data hashes) for the report and
lineage; as DVC metrics those were hundreds of columns. This picks, per task
and model variant, only the numbers a reader compares experiments by.
"""

from __future__ import annotations

# Summary scores by name, in the order they are listed; any a task reports is kept.
HEADLINE_KEYS = ("acc", "macro_f1", "overall", "bits_per_char")
VARIANTS = ("base", "tuned")


def headline_scores(metrics: dict) -> dict:
    """{dataset_hash, <task>: {base|tuned: {score: value}}} from a metrics/eval.json dict."""
    scores: dict = {"dataset_hash": metrics.get("dataset_hash")}
    for task, entry in metrics.items():
        if not isinstance(entry, dict) or not any(isinstance(entry.get(v), dict) for v in VARIANTS):
            continue
        scores[task] = {variant: {key: entry[variant][key] for key in HEADLINE_KEYS
                                  if isinstance(entry[variant].get(key), (int, float))}
                        for variant in VARIANTS if isinstance(entry.get(variant), dict)}
    return scores
