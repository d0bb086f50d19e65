"""`jinstruct explain` on a small real build (real DVC in a temporary git repo).

The sources are a slice of the offline mirror chosen to hold the cases the issue
names: Tanaka pairs, a Dolly near-duplicate pair, a JCommonsenseQA question that
decontamination removes, and one written with half-width kana. Every expected
fact is read from the stage outputs (rejects, clusters, split files, raw text),
never from explain itself.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import unicodedata
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
import yaml

from jinstruct.explain import explain_record
from jinstruct.explain.render import render_story
from jinstruct.records import InputError
from tests.support import MIRROR, REPO_ROOT
from tests.support.pipeline import build_slice_mirror, make_project, run

# upstream items of the default build known to hold each case
DOLLY_INDEXES = [*range(12), 10529, 1659, 7122, 8417, 1280, 5890]  # two hard pairs, one near-duplicate pair
JCQA_LINES = [*range(1, 13), 28, 183]                     # 28: ﾎﾞｽ (half-width kana); 183: in the eval set
TANAKA_LINES = 40
HALFWIDTH_ID, CONTAMINATED_ID = "jcommonsenseqa:27", "jcommonsenseqa:182"
# Two questions on one passage, with different answers: "which Lieberse was born first / last" and
# "which trees feed people / animals". verify: signature took each pair for one record (jaccard 0.82
# and 0.96); verify: edits keeps all four.
FIRST_BORN, LAST_BORN, FEEDS_PEOPLE, FEEDS_ANIMALS = "dolly_ja:10529", "dolly_ja:1659", "dolly_ja:7122", "dolly_ja:8417"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror not found at {MIRROR}"),
]


def _slice_lines(source: Path, target: Path, numbers: set[int] | int) -> None:
    lines = source.read_bytes().split(b"\n")
    wanted = range(1, numbers + 1) if isinstance(numbers, int) else sorted(numbers)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"".join(lines[n - 1] + b"\n" for n in wanted))


def _slice_dolly(source: Path, target: Path) -> None:
    names = {f"data/{index:05d}.jsonl" for index in DOLLY_INDEXES}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source) as archive, tarfile.open(target, "w:gz") as out:
        for member in archive:
            if "/data/" in member.name and member.isfile() and not any(member.name.endswith(n) for n in names):
                continue
            data = archive.extractfile(member).read() if member.isfile() else None
            out.addfile(member, io.BytesIO(data) if data is not None else None)


def _slice_file(name: str, source: Path, target: Path) -> None:
    if name == "dolly_ja":
        _slice_dolly(source, target)
    else:
        _slice_lines(source, target, TANAKA_LINES if name == "tanaka" else set(JCQA_LINES))


def _mirror(root: Path, params: dict) -> Path:
    params["sources"] = {name: spec for name, spec in params["sources"].items()
                         if name in ("dolly_ja", "tanaka", "jcommonsenseqa")}
    return build_slice_mirror(root, params, _slice_file)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    mirror = _mirror(root, params)
    project, env = make_project(root, mirror, params)
    run([sys.executable, "-m", "dvc", "repro", "split"], project, env)
    return project, env


def _text(project: Path, record_id: str, **options) -> str:
    return render_story(explain_record(project, record_id, **options))


def test_a_tanaka_record_in_train_shows_both_directions_as_one_group(built):
    project, _ = built
    train = pl.read_parquet(project / "data/processed/train.parquet")
    pair = train.filter(pl.col("source") == "tanaka").group_by("group").agg("id").filter(pl.col("id").list.len() == 2)
    record_id, other = sorted(pair["id"][0].to_list())
    text = _text(project, record_id)
    assert text.splitlines()[0] == f"{record_id}: in train (group {pair['group'][0]} with 1 other record)"
    assert f"group {pair['group'][0]}: {other}" in text
    line = int(record_id.split(":")[1])
    ja_line = (project / "data/raw/tanaka/train.ja").read_text(encoding="utf-8").splitlines()[line - 1]
    assert f"tanaka/train.ja line {line}" in text and f"tanaka/train.en line {line}" in text
    assert ja_line.replace(" ", "")[:10] in text.replace(" ", "")          # the raw Japanese side, as converted
    manifest = json.loads((project / "data/processed/manifest.json").read_text())
    assert manifest["splits"]["train"]["sha256"] in text and manifest["dataset_hash"] in text


def _near_duplicate(project: Path) -> str:
    """The first record dedup removed as a near duplicate in this build (the story is checked against its reject)."""
    rejects = pl.read_parquet(project / "data/rejects/dedup.parquet").filter(pl.col("reason") == "near_duplicate")
    assert rejects.height, "the test build has no near duplicate to explain"
    return rejects.sort("id")["id"][0]


def test_a_near_duplicate_names_the_kept_id_and_similarity(built):
    project, _ = built
    near_duplicate = _near_duplicate(project)
    reject = pl.read_parquet(project / "data/rejects/dedup.parquet").filter(pl.col("id") == near_duplicate)
    kept_id, similarity = re.search(r"of (\S+) \(jaccard ([0-9.]+)", reject["detail"][0]).groups()
    cluster = pl.read_parquet(project / "data/interim/dedup_clusters.parquet").filter(pl.col("cluster_id") == kept_id)
    text = _text(project, near_duplicate)
    first = text.splitlines()[0]
    assert first.startswith(f"{near_duplicate}: REMOVED at dedup: near_duplicate") and kept_id in first
    assert f"cluster {kept_id}, {cluster.height} records, kept {kept_id}, similarity {similarity}" in text
    assert "filter     not reached" in text and "split      not reached" in text


def test_two_questions_on_one_passage_are_both_kept_and_explained_as_unique(built):
    project, _ = built
    for record_id in (FIRST_BORN, LAST_BORN, FEEDS_PEOPLE, FEEDS_ANIMALS):
        assert "dedup      unique" in _text(project, record_id)


def test_a_contaminated_jcommonsenseqa_record_names_the_eval_item(built):
    project, _ = built
    reject = pl.read_parquet(project / "data/rejects/filter.parquet").filter(pl.col("id") == CONTAMINATED_ID)
    assert reject["reason"][0] == "contaminated"
    eval_item = re.search(r"with (\S+)", reject["detail"][0]).group(1).rstrip(",")
    story = explain_record(project, CONTAMINATED_ID)
    text = render_story(story)
    assert text.splitlines()[0].startswith(f"{CONTAMINATED_ID}: REMOVED at filter: contaminated")
    assert eval_item in text.splitlines()[0]
    assert story["filter"]["failed_filter"] == "decontamination"
    assert "dedup      unique" in text


def test_half_width_kana_normalisation_shows_before_and_after(built):
    project, _ = built
    row = pl.read_parquet(project / "data/interim/normalized.parquet").filter(pl.col("id") == HALFWIDTH_ID)
    raw = row["raw_input"][0]
    halfwidth = re.search(r"[\uff61-\uff9f]+", raw).group(0)
    fullwidth = unicodedata.normalize("NFKC", halfwidth)
    assert fullwidth in row["input"][0]
    change = next(line for line in _text(project, HALFWIDTH_ID).splitlines() if "halfwidth_katakana on input" in line)
    before, after = change.split("halfwidth_katakana on input: ")[1].split(" → ")
    assert halfwidth in before and fullwidth not in before
    assert fullwidth in after and halfwidth not in after


def test_json_output_follows_the_documented_schema(built):
    jsonschema = pytest.importorskip("jsonschema")
    project, _ = built
    schema = json.loads((resources.files("jinstruct.explain") / "schema.json").read_text(encoding="utf-8"))
    for record_id in (_near_duplicate(project), CONTAMINATED_ID, HALFWIDTH_ID, "tanaka:1:en-ja"):
        jsonschema.validate(explain_record(project, record_id, verify=True), schema)


def test_cli_explains_and_searches_and_rejects_an_unknown_id(built):
    project, env = built
    cli = [sys.executable, "-m", "jinstruct", "explain", "--root", str(project)]
    done = subprocess.run([*cli, CONTAMINATED_ID, "--json"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"]["stage"] == "filter"
    question = json.loads((project / "data/raw/jcommonsenseqa/train-v1.3.json").read_text(encoding="utf-8")
                          .splitlines()[-1])["question"]          # line 183 of the upstream file
    searched = subprocess.run([*cli, "--search", question], capture_output=True, text=True, env=env, check=False)
    assert searched.returncode == 0 and searched.stdout.startswith(CONTAMINATED_ID)
    unknown = subprocess.run([*cli, "dolly_ja:99999999"], capture_output=True, text=True, env=env, check=False)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().count("\n") == 0 and "no record with this id" in unknown.stderr


def test_verify_detects_a_raw_file_changed_after_the_build(built):
    project, _ = built
    assert explain_record(project, "tanaka:2:ja-en", verify=True)["verify"]["ok"]
    raw = project / "data/raw/tanaka/train.ja"
    original = raw.read_bytes()
    lines = original.split(b"\n")
    lines[1] = "改竄 された 行 。".encode()
    try:
        raw.write_bytes(b"\n".join(lines))
        verify = explain_record(project, "tanaka:2:ja-en", verify=True)["verify"]
        assert not verify["ok"]
        assert "raw file changed after the build" in verify["checks"][0]["detail"]
    finally:
        raw.write_bytes(original)
    member = next((project / "data/raw/dolly_ja").rglob("01659.jsonl"))
    original = member.read_bytes()
    try:
        member.write_bytes(original.replace(b'"output": "', b'"output": "X', 1)
                           if b'"output": "' in original else original.replace(b'"output":"', b'"output":"X', 1))
        verify = explain_record(project, "dolly_ja:1659", verify=True)["verify"]
        assert not verify["ok"] and "different output" in verify["checks"][-1]["detail"]
    finally:
        member.write_bytes(original)


def test_stale_outputs_and_an_unbuilt_project_are_one_line_errors(built, tmp_path):
    project, _ = built
    rejects = project / "data/rejects/dedup.parquet"
    original, near_duplicate = rejects.read_bytes(), _near_duplicate(project)
    try:
        pl.read_parquet(rejects).head(0).write_parquet(rejects)  # the rejects of another build
        with pytest.raises(InputError, match=r"data/rejects/dedup.parquet: stale.*different build"):
            explain_record(project, near_duplicate)
    finally:
        rejects.write_bytes(original)
    unbuilt = tmp_path / "unbuilt"
    (unbuilt / "data").mkdir(parents=True)
    shutil.copyfile(project / "dvc.yaml", unbuilt / "dvc.yaml")
    with pytest.raises(InputError, match="has not been built"):
        explain_record(unbuilt, FIRST_BORN)


def test_origins_point_at_the_upstream_line_of_every_record(built):
    project, _ = built
    origins = pl.read_parquet(project / "data/interim/origins.parquet")
    converted = pl.read_parquet(project / "data/interim/converted.parquet")
    assert set(converted["id"]) <= set(origins["id"])
    jcqa_lines = (project / "data/raw/jcommonsenseqa/train-v1.3.json").read_text(encoding="utf-8").splitlines()
    for row in origins.filter(pl.col("id").str.starts_with("jcommonsenseqa:")).iter_rows(named=True):
        assert f"jcommonsenseqa:{json.loads(jcqa_lines[row['position'] - 1])['q_id']}" == row["id"]
    tanaka = origins.filter(pl.col("id") == "tanaka:7:ja-en")
    assert tanaka["file"].to_list() == ["tanaka/train.ja", "tanaka/train.en"] and tanaka["position"].to_list() == [7, 7]


def test_filter_stats_name_the_filter_of_each_reason(built):
    project, _ = built
    stats = json.loads((project / "metrics/filter.json").read_text())
    rejects = pl.read_parquet(project / "data/rejects/filter.parquet")
    counted = sum(count for by_reason in stats["rejected_by_filter"].values() for count in by_reason.values())
    assert counted == rejects.height
    assert stats["rejected_by_filter"]["decontamination"]["contaminated"] == \
        rejects.filter(pl.col("reason") == "contaminated").height


def test_the_cluster_columns_explain_reads_are_those_dedup_writes():
    from jinstruct.dedup.run import CLUSTER_SCHEMA
    from jinstruct.explain.story import CLUSTER_COLUMNS

    assert set(CLUSTER_COLUMNS) <= set(CLUSTER_SCHEMA)
