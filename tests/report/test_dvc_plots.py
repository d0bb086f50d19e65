"""The `plots:` section of dvc.yaml, rendered by real DVC from files in the formats
train (dvclive) and evaluate (plots/*.json) write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

DVC = Path(sys.executable).with_name("dvc")

pytestmark = pytest.mark.integration


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_dvc_plots_show_renders_curves_and_grouped_eval_bars(tmp_path):
    shutil.copy(REPO_ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    env = {**os.environ, "PATH": f"{DVC.parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([str(DVC), "init", "--no-scm", "-q"], cwd=tmp_path, env=env, check=True)
    shutil.copytree(REPO_ROOT / ".dvc" / "plots", tmp_path / ".dvc" / "plots")  # the custom template
    live = tmp_path / "dvclive/train/plots/metrics/train"
    _write(live / "loss.tsv", "step\tloss\n0\t5.5\n1\t4.25\n2\t3.0\n")
    _write(live / "lr.tsv", "step\tlr\n0\t0.001\n1\t0.002\n2\t0.0\n")
    rows = [{"bar": f"{task} · {model}", "task": task, "model": model, "acc": acc}
            for task, model, acc in (("jnli", "base", 0.33), ("jnli", "tuned", 0.41),
                                     ("jnli", "majority class", 0.5), ("jcommonsenseqa", "base", 0.2),
                                     ("jcommonsenseqa", "tuned", 0.25))]
    _write(tmp_path / "plots/eval.json", json.dumps(rows, ensure_ascii=False))
    _write(tmp_path / "plots/eval_perplexity.json", json.dumps(
        [{"bar": "overall · base", "task": "overall", "model": "base", "perplexity": 120.5, "bits_per_char": 3.5},
         {"bar": "overall · tuned", "task": "overall", "model": "tuned", "perplexity": 60.25,
          "bits_per_char": 2.75}]))

    shown = subprocess.run([str(DVC), "plots", "show", "--json"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    plots = {name: renders[0]["content"] for name, renders in json.loads(shown.stdout)["data"].items()}
    # stage blocks may declare more plots of their own; these four are the top-level section
    assert {"Training loss", "Learning rate", "Evaluation accuracy, base vs tuned",
            "Evaluation perplexity, base vs tuned"} <= set(plots)
    loss = plots["Training loss"]["data"]["values"]
    assert [(int(v["step"]), float(v["loss"])) for v in loss] == [(0, 5.5), (1, 4.25), (2, 3.0)]
    accuracy = plots["Evaluation accuracy, base vs tuned"]
    assert accuracy["encoding"]["x"]["field"] == "task" and accuracy["encoding"]["y"]["field"] == "acc"
    assert accuracy["encoding"]["xOffset"]["field"] == "model" and accuracy["encoding"]["color"]["field"] == "model"
    assert sorted((v["task"], v["model"], v["acc"]) for v in accuracy["data"]["values"]) == sorted(
        (r["task"], r["model"], r["acc"]) for r in rows)
    perplexity = plots["Evaluation perplexity, base vs tuned"]["data"]["values"]
    assert {(v["model"], v["perplexity"]) for v in perplexity} == {("base", 120.5), ("tuned", 60.25)}
    bits = plots["Bits per character of held-out answers, base vs tuned"]["data"]["values"]
    assert {(v["model"], v["bits_per_char"]) for v in bits} == {("base", 3.5), ("tuned", 2.75)}
