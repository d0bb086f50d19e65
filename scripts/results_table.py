"""The docs/results.md table, built from finished DVC experiments (their git refs), not typed by hand.

    python scripts/results_table.py gemma3-270m-all smollm2-135m-all ...

For each named experiment it reads metrics/eval.json, metrics/train.json and
params.yaml from the experiment's commit (``refs/exps/.../<name>``) and prints
one Markdown row per model variant (untuned = the evaluate stage's ``base``,
tuned = base + that experiment's adapter): accuracy with its 95% Wilson
interval, the majority and chance baselines, k and n, bits per character and
perplexity of the held-out answers, trainable parameters, tokens seen, the
validation loss before and after tuning, the commit the experiment ran on and
its dataset hash. Wall times are not in any tracked file (outputs never hold
timings): they are given beside the table.
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def experiment_ref(name: str) -> str:
    refs = [line for line in git("for-each-ref", "refs/exps", "--format=%(refname)").split()
            if line.rsplit("/", 1)[-1] == name]
    if len(refs) != 1:
        raise SystemExit(f"results_table: experiment {name!r}: {len(refs)} refs found (need exactly one)")
    return refs[0]


def read(ref: str, path: str):
    text = git("show", f"{ref}:{path}")
    return yaml.safe_load(text) if path.endswith(".yaml") else json.loads(text)


def accuracy(entry: dict, variant: str) -> str:
    scores = entry[variant]
    low, high = scores["acc_ci95"]["low"], scores["acc_ci95"]["high"]
    # the evaluate stage's verdict, shortened: above / below the majority baseline, or no signal
    words = scores["verdict"].split(" (")[0].replace(" the majority baseline", " majority")
    return f"{scores['acc']:.2f} [{low:.2f}, {high:.2f}] {words}"


def rows(name: str) -> list[str]:
    ref = experiment_ref(name)
    baseline = ref.split("/")[2] + ref.split("/")[3]  # refs/exps/<2 hex>/<38 hex>/<name>: the commit it ran on
    metrics, train, params = read(ref, "metrics/eval.json"), read(ref, "metrics/train.json"), read(ref, "params.yaml")
    nli, jcqa, ppl = metrics["jnli"], metrics["jcommonsenseqa"], metrics["perplexity"]
    out = []
    for variant in ("base", "tuned"):
        tuned = variant == "tuned"
        out.append(" | ".join([
            f"| {name}", params["model"]["base"], "LoRA" if tuned else "untuned",
            accuracy(nli, variant), accuracy(jcqa, variant),
            f"{ppl[variant]['bits_per_char']:.3f}", f"{ppl[variant]['overall']:.2f}",
            f"{train['trainable_parameters']:,}" if tuned else "–",
            f"{train['tokens_seen']:,}" if tuned else "–",
            f"{train['validation_loss_before']:.3f} → {train['validation_loss']:.3f}" if tuned else "–",
            baseline[:7], metrics["dataset_hash"][:12] + " |",
        ]))
    return out


def baselines(name: str) -> str:
    metrics = read(experiment_ref(name), "metrics/eval.json")
    parts = []
    for task in ("jnli", "jcommonsenseqa"):
        entry = metrics[task]
        majority = entry["majority_baseline"]
        parts.append(f"{task}: n={entry['n']}, k={entry['k']}, majority {majority['acc']:.2f} "
                     f"({majority['label']}), chance {entry['chance_baseline']:.2f}")
    parts.append(f"perplexity: n={metrics['perplexity']['n']} answers")
    return "; ".join(parts)


def main(names: list[str]) -> None:
    print("| experiment | base | model | JNLI acc [95% CI] | JCommonsenseQA acc [95% CI] | bits/char | perplexity "
          "| trainable params | tokens seen | validation loss before → after | commit | dataset hash |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        print("\n".join(rows(name)))
    print()
    for name in names:
        print(f"- {name}: {baselines(name)}")


if __name__ == "__main__":
    main(sys.argv[1:])
