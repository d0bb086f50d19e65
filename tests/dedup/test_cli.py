"""`jinstruct dedup` on a file outside the pipeline, and the DVC stage as users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from jinstruct.cli import main
from tests.support import REPO_ROOT, dvc_stage
from tests.support.dedup import FUJI_A, FUJI_Q, KYOTO_A, KYOTO_Q, frame, record


def test_cli_on_a_jsonl_file_with_its_own_text_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: built-in defaults
    lines = [
        {"body": FUJI_Q + FUJI_A, "lang": "ja"},
        {"body": FUJI_Q + FUJI_A, "lang": "ja"},
        {"body": "質問：" + FUJI_Q + FUJI_A + "以上です。", "lang": "ja"},
        {"body": KYOTO_Q + KYOTO_A, "lang": "ja"},
    ]
    source = tmp_path / "notes.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n{broken\n",
                      encoding="utf-8")
    code = main(["dedup", "--input", str(source), "--output", "kept.jsonl", "--rejects", "rejects.jsonl",
                 "--stats", "stats.json", "--clusters", "clusters.parquet", "--index", "index.parquet",
                 "--text-field", "body"])
    assert code == 0
    kept = [json.loads(line) for line in Path("kept.jsonl").read_text(encoding="utf-8").splitlines()]
    rejects = [json.loads(line) for line in Path("rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in kept] == ["notes:1", "notes:4"]  # no output column to compare: smallest id
    assert all(row["lang"] == "ja" for row in kept)                     # other columns pass through
    assert sorted((row["id"], row["reason"]) for row in rejects) == [
        ("notes:2", "exact_duplicate"), ("notes:3", "near_duplicate"), ("parse:notes.jsonl:5", "parse_error")]
    stats = json.loads(Path("stats.json").read_text(encoding="utf-8"))
    assert (stats["records_in"], stats["records_out"], stats["records_rejected"]) == (5, 2, 3)
    assert pl.read_parquet("clusters.parquet")["cluster_id"].unique().to_list() == ["notes:1"]
    assert pl.read_parquet("index.parquet")["id"].to_list() == ["notes:1", "notes:4"]


def test_cli_reports_a_missing_text_column_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("x.jsonl").write_text(json.dumps({"text": "こんにちは"}) + "\n", encoding="utf-8")
    assert main(["dedup", "--input", "x.jsonl", "--output", "y.jsonl", "--text-field", "body"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _dvc(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    dvc = [sys.executable, "-m", "dvc"]
    done = subprocess.run([*dvc, *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.integration
def test_dvc_exp_run_with_another_threshold_changes_the_result(tmp_path):
    repo = tmp_path / "build"
    shutil.copytree(REPO_ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "stages").mkdir()
    shutil.copy(REPO_ROOT / "stages" / "dedup.py", repo / "stages" / "dedup.py")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    (repo / "params.yaml").write_text(yaml.safe_dump({"dedup": {**params["dedup"], "n_jobs": 1,
                                                                "verify": "signature"}}),
                                      encoding="utf-8")
    stage = dvc_stage("dedup")
    stage["cmd"] = stage["cmd"].replace("python ", f"{sys.executable} ", 1)
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"dedup": stage}}), encoding="utf-8")
    edited = KYOTO_A.replace("千年以上都が置かれていた", "長く都であった")  # estimated Jaccard 0.77
    rows = [record("a:1", KYOTO_Q, KYOTO_A), record("a:2", KYOTO_Q, edited), record("a:3", FUJI_Q, FUJI_A)]
    (repo / "data" / "interim").mkdir(parents=True)
    frame(rows).write_parquet(repo / "data" / "interim" / "normalized.parquet")
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=repo, check=True, capture_output=True)
    _dvc(repo, "init", "-q")
    _dvc(repo, "repro", "-q")
    baseline = json.loads((repo / "metrics" / "dedup.json").read_text(encoding="utf-8"))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"], cwd=repo,
                   check=True, capture_output=True)
    _dvc(repo, "exp", "run", "-q", "-S", "dedup.threshold=0.7")
    experiment = json.loads((repo / "metrics" / "dedup.json").read_text(encoding="utf-8"))
    assert baseline["records_out"] == 3 and experiment["records_out"] == 2
    assert experiment["rejected_by_reason"] == {"near_duplicate": 1}
    shown = _dvc(repo, "exp", "show", "--md")
    assert "0.7" in shown and "0.8" in shown
