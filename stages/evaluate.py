"""DVC stage evaluate: score base and tuned models, write metrics/eval.json (everything),
metrics/scores.json (the headline scores DVC lists as metrics) and the comparison plots.
The paths come from dvc.yaml's cmd."""

import argparse
from pathlib import Path

from jinstruct.evaluate.headline import headline_scores
from jinstruct.evaluate.suite import evaluate_build
from jinstruct.params import load_params, stage_settings
from jinstruct.records import write_json
from jinstruct.stage import stage_main
from jinstruct.train.determinism import make_deterministic

PATHS = ("base", "adapter", "processed", "eval_dir", "metrics", "scores", "plots", "perplexity_plots")


def body() -> None:
    parser = argparse.ArgumentParser(prog="stages/evaluate.py")
    for name in PATHS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=True)
    args = parser.parse_args()
    params = dict(load_params("eval"))
    make_deterministic(int(params.get("seed", 0)), stage_settings("torch", required=False).threads)
    # Perplexity is measured in the prompt format the adapter was trained with.
    training_template = (load_params("train") or {}).get("template")
    if training_template:
        params["prompt_template"] = training_template
    metrics, plots = evaluate_build(args.base, args.adapter, args.processed, args.eval_dir,
                                    params, load_params("eval_sets"), load_params("filter"))
    write_json(metrics, args.metrics)
    write_json(headline_scores(metrics), args.scores)
    write_json(plots["accuracy"], args.plots)
    write_json(plots["perplexity"], args.perplexity_plots)


if __name__ == "__main__":
    stage_main("evaluate", body)
