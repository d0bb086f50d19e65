"""Tiny built projects for the publish, lineage and diff tests.

``make_project(root)`` creates a real git + DVC project whose two stages write
what the real pipeline writes, from a few Japanese records: ``data/raw/<source>/``
files with ``provenance.json`` (fetch), and ``data/processed`` with split files,
``manifest.json`` (dataset hash from ``records.dataset_hash``) and the card
(split). The split stage drops records whose fixture "similarity" reaches
``dedup.threshold`` so that two thresholds give two different builds, and runs
under real ``dvc repro``. Nothing here imports the other engineers' branches.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import REPO_ROOT

PYTHON = sys.executable
# build.py imports tests.support.publish, so the subprocess sees the checkout's root as well as src/.
ENV = {**os.environ, "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",
       "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}",
       "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.org", "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1"}

COMMIT = "0123456789abcdef0123456789abcdef01234567"

# source -> (licence, [(task, instruction, input, output, similarity to an earlier record)])
SOURCES = {
    "dolly_ja": ("CC-BY-SA-3.0", [
        ("open_qa", "日本で一番高い山は何ですか？", "", "富士山です。標高は3776メートルです。", 0.0),
        ("open_qa", "日本で一番高い山はどこですか？", "", "富士山です。", 0.85),
        ("brainstorming", "週末の過ごし方を三つ挙げてください。", "", "読書、散歩、料理です。", 0.0),
        ("summarization", "次の文章を要約してください。", "桜は春に咲き、多くの人が花見を楽しむ。",
         "春に桜が咲き花見が行われる。", 0.0),
        ("closed_qa", "文章によると、会議は何時に始まりますか？", "会議は午前十時に始まります。", "午前十時です。",
         0.0),
        ("creative_writing", "秋についての短い詩を書いてください。", "", "紅葉が舞い、風が冷たくなる。", 0.0),
    ]),
    "alpaca_ja_seed": ("Apache-2.0", [
        ("seed", "次の単語を使って文を作ってください。", "猫、窓、昼寝", "猫が窓辺で昼寝をしている。", 0.0),
        ("seed", "次の数の合計を求めてください。", "3, 5, 7", "15です。", 0.0),
        ("seed", "次の数の合計を計算してください。", "3, 5, 7", "合計は15です。", 0.75),
        ("seed", "健康的な朝食の例を挙げてください。", "", "ご飯、味噌汁、焼き魚。", 0.0),
    ]),
    "tanaka": ("CC-BY-2.0-FR", [
        ("translation_en_ja", "次の英語を日本語に訳してください。", "i like tea .", "私はお茶が好きです。", 0.0),
        ("translation_ja_en", "次の日本語を英語に訳してください。", "私はお茶が好きです。", "i like tea .", 0.0),
        ("translation_en_ja", "次の英語を日本語に訳してください。", "it is raining .", "雨が降っています。", 0.0),
        ("translation_ja_en", "次の日本語を英語に訳してください。", "雨が降っています。", "it is raining .", 0.0),
    ]),
    "jcommonsenseqa": ("CC-BY-SA-4.0", [
        ("jcommonsenseqa", "次の質問に選択肢から答えてください。", "電車に乗る場所は？ 駅、海、山、森、空", "駅", 0.0),
        ("jcommonsenseqa", "次の質問に選択肢から答えてください。", "本を借りる場所は？ 図書館、台所、庭、川、港",
         "図書館", 0.0),
        ("jcommonsenseqa", "次の質問に選択肢から答えてください。", "本を借りるところは？ 図書館、台所、庭、川、港",
         "図書館", 0.8),
    ]),
}

BUILD_SCRIPT = '''\
import sys
from tests.support.publish import build_stage
build_stage(sys.argv[1])
'''

DVC_YAML = '''\
stages:
  fetch:
    cmd: python build.py fetch
    deps: [build.py]
    params: [sources]
    outs: [data/raw]
  split:
    cmd: python build.py split
    deps: [build.py, data/raw]
    params: [dedup, split]
    outs: [data/processed]
'''


def params_yaml(threshold: float, licences: dict[str, str] | None = None) -> str:
    licences = licences or {}
    lines = ["sources:"]
    for name, (licence, _) in SOURCES.items():
        lines += [f"  {name}:", "    kind: url",
                  f"    url: https://raw.githubusercontent.com/example/{name}/{COMMIT}/records.jsonl",
                  f"    license: {licences.get(name, licence)}"]
    lines += ["dedup:", f"  threshold: {threshold}", "split:", "  name: jinstruct-fixture", "  version: 0.1.0"]
    return "\n".join(lines) + "\n"


def run(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def dvc(args: list[str], cwd: Path) -> str:
    return run([PYTHON, "-m", "dvc", *args], cwd)


def make_project(root: Path, threshold: float = 0.9, licences: dict[str, str] | None = None) -> Path:
    """A git + DVC project built with `dvc repro` and committed; returns its root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "build.py").write_text(BUILD_SCRIPT)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text(params_yaml(threshold, licences))
    run(["git", "init", "-q", "-b", "main"], root)
    dvc(["init", "-q"], root)
    dvc(["config", "core.autostage", "true"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", "project"], root)
    rebuild(root, f"build with dedup.threshold={threshold}")
    return root


_BUILDS: dict[tuple, Path] = {}


def built_copy(target: Path, threshold: float = 0.9, licences: dict[str, str] | None = None) -> Path:
    """A copy at ``target`` of a project built once per test session (git history and DVC cache included)."""
    key = (threshold, tuple(sorted((licences or {}).items())))
    if key not in _BUILDS:
        folder = tempfile.mkdtemp(prefix="jinstruct-build-")
        atexit.register(shutil.rmtree, folder, True)
        _BUILDS[key] = make_project(Path(folder) / "project", threshold, licences)
    return Path(shutil.copytree(_BUILDS[key], target, symlinks=True))


def rebuild(root: Path, message: str) -> str:
    """`dvc repro` then commit dvc.lock; returns the new commit id."""
    dvc(["repro", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", message], root)
    return run(["git", "rev-parse", "HEAD"], root).strip()


# --------------------------------------------------------------------------- the stage bodies


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_stage(name: str, project: Path = Path(".")) -> None:
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    if name == "fetch":
        _fetch(project, params)
    else:
        _split(project, params)


def _fetch(project: Path, params: dict) -> None:
    from jinstruct.records import write_json

    provenance = {"sources": {}}
    for name, (_, rows) in SOURCES.items():
        path = project / "data" / "raw" / name / "records.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"task": t, "instruction": i, "input": x, "output": o, "similarity": s},
                                           ensure_ascii=False) + "\n" for t, i, x, o, s in rows), encoding="utf-8")
        entry = params["sources"][name]
        # The shape fetch writes: files keyed by role, paths relative to data/raw.
        provenance["sources"][name] = {
            "kind": entry["kind"], "format": "jsonl", "license": entry["license"], "revision": COMMIT,
            "records": len(rows), "bytes": path.stat().st_size,
            "files": {"data": {"url": entry["url"], "sha256": _sha(path), "bytes": path.stat().st_size,
                               "pinned": True, "path": f"{name}/records.jsonl"}}}
    write_json(provenance, project / "data" / "raw" / "provenance.json")


def _split(project: Path, params: dict) -> None:
    import polars as pl

    from jinstruct.records import dataset_hash, file_sha256, write_json, write_parquet
    from jinstruct.release.card import render_card

    provenance = json.loads((project / "data" / "raw" / "provenance.json").read_text())
    rows = []
    for name in SOURCES:
        licence = params["sources"][name]["license"]
        lines = (project / "data" / "raw" / name / "records.jsonl").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            value = json.loads(line)
            rows.append({"id": f"{name}:{number}", "source": name, "task": value["task"],
                         "instruction": value["instruction"], "input": value["input"], "output": value["output"],
                         "license": licence, "group": f"{name}:{number}", "similarity": value["similarity"]})
    frame = pl.DataFrame(rows)
    threshold = params["dedup"]["threshold"]
    kept = frame.filter(pl.col("similarity") < threshold).drop("similarity")
    rejected = frame.filter(pl.col("similarity") >= threshold)
    # Every third record (by id) goes to validation / test: tiny but every split is non-empty.
    ordered = kept.sort("id").with_row_index("position")
    split_of = pl.when(pl.col("position") % 6 == 1).then(pl.lit("validation")) \
        .when(pl.col("position") % 6 == 4).then(pl.lit("test")).otherwise(pl.lit("train"))
    ordered = ordered.with_columns(split=split_of)
    out = project / "data" / "processed"
    frames, splits, counts = {}, {}, {}
    for split in ("train", "validation", "test"):
        part = ordered.filter(pl.col("split") == split).drop("position", "split").sort("id")
        frames[split] = part
        write_parquet(part, out / f"{split}.parquet")
        splits[split] = {"file": f"{split}.parquet", "records": part.height,
                         "sha256": file_sha256(out / f"{split}.parquet")}
        counts[split] = {}
        for row in part.group_by("source", "task").len().sort("source", "task").iter_rows(named=True):
            counts[split].setdefault(row["source"], {})[row["task"]] = row["len"]

    def by_source(incoming, outgoing):
        return {s: {"in": incoming.get(s, 0), "out": outgoing.get(s, 0),
                    "rejected": incoming.get(s, 0) - outgoing.get(s, 0)}
                for s in sorted(incoming)}

    sources_in = {s: frame.filter(pl.col("source") == s).height for s in SOURCES}
    sources_out = {s: kept.filter(pl.col("source") == s).height for s in SOURCES}
    funnel = {
        "convert": {"stage": "convert", "records_in": frame.height, "records_out": frame.height, "records_rejected": 0,
                    "by_source": by_source(sources_in, sources_in), "rejected_by_reason": {}},
        "dedup": {"stage": "dedup", "records_in": frame.height, "records_out": kept.height,
                  "records_rejected": rejected.height, "by_source": by_source(sources_in, sources_out),
                  "rejected_by_reason": {"near_duplicate": rejected.height} if rejected.height else {}},
    }
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    manifest = {
        "name": params["split"]["name"], "version": params["split"]["version"], "dataset_hash": dataset_hash(frames),
        "splits": splits, "counts": counts, "funnel": funnel, "provenance": provenance,
        "params": {"sources": params["sources"], "dedup": params["dedup"], "split": params["split"]},
        "code": {"git_commit": commit, "git_dirty": False, "jinstruct_version": "0.1.0"},
    }
    write_json(manifest, out / "manifest.json")
    (out / "README.md").write_text(render_card(manifest), encoding="utf-8")
