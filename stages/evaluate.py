"""DVC stage evaluate: score base and tuned models, write metrics/eval.json (everything),
metrics/scores.json (the headline scores DVC lists as metrics) and the comparison plots."""

from pathlib import Path

from jinstruct.evaluate.headline import headline_scores
from jinstruct.evaluate.suite import evaluate_build
from jinstruct.params import load_params
from jinstruct.records import write_json
from jinstruct.stage import stage_main
from jinstruct.train.determinism import make_deterministic, thread_count


def body() -> None:
    params = dict(load_params("eval"))
    make_deterministic(int(params.get("seed", 0)), thread_count(load_params().get("torch")))
    # Perplexity is measured in the prompt format the adapter was trained with.
    training_template = (load_params("train") or {}).get("template")
    if training_template:
        params["prompt_template"] = training_template
    metrics, plots = evaluate_build(Path("models/base"), Path("models/adapter"), Path("data/processed"),
                                    Path("data/eval"), params, load_params("eval_sets"), load_params("filter"))
    write_json(metrics, "metrics/eval.json")
    write_json(headline_scores(metrics), "metrics/scores.json")
    write_json(plots["accuracy"], "plots/eval.json")
    write_json(plots["perplexity"], "plots/eval_perplexity.json")


if __name__ == "__main__":
    stage_main("evaluate", body)
