"""Run the chosen tasks on base and tuned, and lay out metrics and plot rows.

Shared by the evaluate stage and ``jinstruct eval``. Every task object offers
``requests()``, ``metrics(scores)`` and ``summary()``; this module scores the
requests once per model variant and adds the tuned-minus-base delta.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from jinstruct.evaluate import jcommonsenseqa, jnli, marc_ja, perplexity
from jinstruct.evaluate.models import Models
from jinstruct.evaluate.scoring import score_requests
from jinstruct.records import InputError

log = logging.getLogger("jinstruct")

TASK_MODULES = {module.NAME: module for module in (jnli, jcommonsenseqa, marc_ja, perplexity)}
# The number each task is judged by in logs and plots (higher is better, except perplexity).
HEADLINE = {"jnli": "acc", "jcommonsenseqa": "acc", "marc_ja": "acc", "perplexity": "overall"}


def task_file(name: str, params: dict) -> Path | None:
    files = params.get("files") or {}
    chosen = files.get(name, TASK_MODULES[name].DEFAULT_FILE)
    return Path(chosen) if chosen else None


def task_params(name: str, params: dict) -> dict:
    """``params`` as task ``name`` sees them: ``limit`` may be one number for every task or a
    mapping task -> number (a task it leaves out is scored whole).

    Per-task limits let a CPU run keep many classification items (whose accuracy needs n for
    a narrow interval) while scoring fewer held-out answers, which cost the most per item
    (every answer token goes through the output layer).
    """
    limit = params.get("limit")
    if not isinstance(limit, dict):
        return params
    unknown = sorted(set(limit) - set(TASK_MODULES))
    if unknown:
        raise InputError(f"eval.limit: unknown task {', '.join(unknown)} (known: {', '.join(TASK_MODULES)})")
    return {**params, "limit": limit.get(name)}


def load_tasks(params: dict) -> list:
    """The task objects named by ``params['tasks']``, reading each one's file."""
    names = params.get("tasks") or []
    unknown = [name for name in names if name not in TASK_MODULES]
    if unknown:
        raise InputError(f"eval.tasks: unknown task {', '.join(unknown)} (known: {', '.join(TASK_MODULES)})")
    return [TASK_MODULES[name].load(task_file(name, params), task_params(name, params)) for name in names]


def delta(base: dict, tuned: dict) -> dict:
    """tuned - base for every float score (counts and confusion matrices are left out)."""
    result = {}
    for key, value in base.items():
        if key in ("confusion", "acc_ci95") or key not in tuned:
            continue
        if isinstance(value, dict):
            result[key] = delta(value, tuned[key])
        elif isinstance(value, float):
            result[key] = tuned[key] - value
    return result


def run_tasks(models: Models, tasks: list, params: dict) -> dict:
    """{task name: summary + base (+ tuned, delta)} for every task."""
    results = {}
    for task in tasks:
        requests = task.requests()
        entry = task.summary()
        for variant, switch in models.variants():
            started = time.perf_counter()
            with switch:
                scores = score_requests(models.model, models.tokenizer, requests,
                                        batch_size=int(params.get("batch_size", 32)),
                                        max_length=params.get("max_length"),
                                        share_prefix=bool(params.get("share_prefix", True)),
                                        desc=f"{task.name} ({variant})")
            entry[variant] = task.metrics(scores)
            log.info(f"[evaluate] {task.name} {variant}: {HEADLINE[task.name]}="
                     f"{entry[variant][HEADLINE[task.name]]:.4f} n={entry['n']} "
                     f"({time.perf_counter() - started:.1f}s)")
        if "tuned" in entry:
            entry["delta"] = delta(entry["base"], entry["tuned"])
        results[task.name] = entry
    return results


def plot_rows(results: dict) -> dict[str, list[dict]]:
    """Base-vs-tuned bars: accuracy of the choice tasks, perplexity and bits per character per test-split task."""
    accuracy, perplexities = [], []
    for name, entry in results.items():
        for variant in ("base", "tuned"):
            if variant not in entry:
                continue
            if name == "perplexity":
                scores = entry[variant]
                for task, value in scores["by_task"].items():
                    perplexities.append({"bar": f"{task} · {variant}", "task": task, "model": variant,
                                         "perplexity": value,
                                         "bits_per_char": scores["bits_per_char_by_task"][task]})
                perplexities.append({"bar": f"overall · {variant}", "task": "overall", "model": variant,
                                     "perplexity": scores["overall"], "bits_per_char": scores["bits_per_char"]})
            else:
                accuracy.append({"bar": f"{name} · {variant}", "task": name, "model": variant,
                                 "acc": entry[variant]["acc"]})
        if name != "perplexity":
            accuracy.append({"bar": f"{name} · majority class", "task": name, "model": "majority class",
                             "acc": entry["majority_baseline"]["acc"]})
    return {"accuracy": accuracy, "perplexity": perplexities}


def evaluate_build(base_dir: Path, adapter_dir: Path, processed_dir: Path, eval_dir: Path, params: dict,
                   eval_sets: dict, filter_params: dict | None) -> tuple[dict, dict[str, list[dict]]]:
    """The evaluate stage: (metrics/eval.json content, plot rows) for base and tuned.

    Checks that the split files still match their manifest and refuses an adapter
    trained on another dataset version, counts benchmark items found in the
    training split (all before any model is loaded), then scores.
    """
    from jinstruct.evaluate.contamination import count_contaminated
    from jinstruct.evaluate.models import adapter_sha256, base_identity, check_adapter_dataset, load_models
    from jinstruct.release.manifest import verify_processed

    _, splits = verify_processed(processed_dir)
    dataset_hash = check_adapter_dataset(adapter_dir, processed_dir / "manifest.json")
    contaminated = count_contaminated(splits["train"], eval_dir, eval_sets, filter_params)
    if contaminated:
        log.warning(f"[evaluate] {contaminated} benchmark items overlap the training split: scores are inflated")
    tasks = load_tasks(params)
    results = run_tasks(load_models(base_dir, adapter_dir), tasks, params)
    metrics = {
        "dataset_hash": dataset_hash,
        "adapter_sha256": adapter_sha256(adapter_dir),
        "base_identity": base_identity(base_dir),
        "contamination": {"eval_items_in_train": contaminated},
        "eval_data_sha256": {name: entry["data_sha256"] for name, entry in results.items()},
        "templates": {name: entry["template"] for name, entry in results.items()},
        **results,
    }
    return metrics, plot_rows(results)
