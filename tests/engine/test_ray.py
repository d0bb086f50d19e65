"""The data stages on Ray give the same bytes as in-process, on one node and on three.

One small real build (a slice of the offline mirror, as in the pipeline test)
runs in-process; then normalize → dedup → filter → split run again as the real
stage scripts with JINSTRUCT_ENGINE=ray, against a Ray cluster that this module
starts once (``ray.cluster_utils.Cluster``): first a single node with 2 CPUs,
then the same cluster with two more nodes. Small blocks, so every stage spreads
over several tasks. Dataset hash, splits, rejects, stats and the interim files
must be byte-identical. Under real DVC in a git repo, switching a built project
to the Ray engine leaves `dvc status` clean and a forced `dvc repro` of the
data stages on Ray leaves dvc.lock as it was.
"""

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

ray = pytest.importorskip("ray")
# The jinstruct.engine modules import ray, so their imports come after the skip:
# ruff: noqa: E402

from jinstruct.engine.plans import BatchPlan
from jinstruct.engine.session import EngineError
from jinstruct.engine.settings import EngineSettings
from jinstruct.pipeline.normalize import normalize_plan
from jinstruct.records import TEXT_FIELDS
from tests.support import MIRROR, REPO_ROOT, stage_argv
from tests.support.pipeline import build_slice_mirror

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror not found at {MIRROR}")]

RAY_STAGES = ("normalize", "dedup", "filter", "split")
BLOCK_RECORDS = 300
COMPARED = (
    [f"data/processed/{split}.parquet" for split in ("train", "validation", "test")]
    + [f"data/rejects/{stage}.parquet" for stage in ("normalize", "dedup", "filter")]
    + [f"metrics/{stage}.json" for stage in ("normalize", "dedup", "filter", "split")]
    + [f"data/interim/{name}.parquet" for name in ("normalized", "deduped", "dedup_clusters", "dedup_index",
                                                     "filtered")]
)
# metrics/convert.json too: split folds every data stage's totals into metrics/split.json
BEFORE_RAY = ("data/raw", "data/eval", "data/interim/converted.parquet", "metrics/convert.json")


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _stage(name: str, cwd: Path, env: dict) -> None:
    done = subprocess.run(stage_argv(name), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"


def _base_env(mirror: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RAY_", "JINSTRUCT_"))}
    env["JINSTRUCT_MIRROR"] = str(mirror)
    return env


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engines")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    mirror = build_slice_mirror(root, params)  # pins params to the sliced files
    project = root / "inprocess"
    shutil.copytree(REPO_ROOT / "stages", project / "stages")
    (project / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = _base_env(mirror)
    for args in (["stages/fetch.py"], ["stages/fetch.py", "--eval"]):
        done = _run(args, project, env)
        assert done.returncode == 0, done.stderr[-3000:]
    _stage("convert", project, env)
    _add_duplicates(project / "data/interim/converted.parquet")
    for name in RAY_STAGES:
        _stage(name, project, env)
    return project


def _add_duplicates(path: Path) -> None:
    """Exact and near copies of some records (the slice alone has almost none), so that
    dedup's clusters, keep rule and reject details are compared too."""
    records = pl.read_parquet(path)
    originals = records.filter(pl.col("source") == "dolly_ja").head(120)
    exact = originals.head(40).with_columns(id=pl.col("id") + "-copy", group=pl.col("id") + "-copy")
    near = originals.tail(80).with_columns(id=pl.col("id") + "-near", group=pl.col("id") + "-near",
                                           output=pl.col("output") + "以上です。")
    pl.concat([records, exact, near]).sort("id").write_parquet(path)


def _project_before_ray(inprocess: Path, target: Path) -> Path:
    shutil.copytree(inprocess / "stages", target / "stages")
    shutil.copyfile(inprocess / "params.yaml", target / "params.yaml")
    for name in BEFORE_RAY:
        source = inprocess / name
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target / name)
    return target


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # tasks of this module (the worker-killing plans) are shipped by value: workers cannot import tests/
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 2})
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def _ray_build(inprocess: Path, target: Path, address: str) -> Path:
    project = _project_before_ray(inprocess, target)
    env = {**_base_env(Path("/nonexistent")), "JINSTRUCT_ENGINE": "ray", "RAY_ADDRESS": address,
           "JINSTRUCT_RAY_BLOCK_RECORDS": str(BLOCK_RECORDS)}
    for name in RAY_STAGES:
        _stage(name, project, env)
    return project


def _assert_same_bytes(expected: Path, actual: Path) -> None:
    different = [name for name in COMPARED if (expected / name).read_bytes() != (actual / name).read_bytes()]
    assert not different, f"differ between engines: {different}"
    hashes = [json.loads((p / "data/processed/manifest.json").read_text())["dataset_hash"] for p in (expected, actual)]
    assert hashes[0] == hashes[1]


def test_one_node_gives_the_in_process_bytes(inprocess, cluster, tmp_path):
    records = json.loads((inprocess / "metrics/normalize.json").read_text())["records_in"]
    assert records > 3 * BLOCK_RECORDS  # several blocks per stage, or the test proves little
    dedup = json.loads((inprocess / "metrics/dedup.json").read_text())
    assert dedup["records_rejected"] > 0 and dedup["dedup"]["confirmed_near_pairs"] > 0
    _assert_same_bytes(inprocess, _ray_build(inprocess, tmp_path / "ray1", cluster.address))


def test_a_local_instance_of_two_cpus_gives_the_in_process_bytes(inprocess, tmp_path):
    """Without RAY_ADDRESS each stage starts a local Ray instance of its own (ray.init with
    num_cpus=2, from JINSTRUCT_RAY_CPUS) and writes the in-process bytes."""
    project = _project_before_ray(inprocess, tmp_path / "local")
    env = {**_base_env(Path("/nonexistent")), "JINSTRUCT_ENGINE": "ray", "JINSTRUCT_RAY_CPUS": "2",
           "JINSTRUCT_RAY_BLOCK_RECORDS": str(BLOCK_RECORDS)}
    for name in RAY_STAGES:
        done = subprocess.run(stage_argv(name), cwd=project, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
        if name != "split":  # the stage ran on Ray, not in this process
            assert f"[{name}] ray" in done.stderr, done.stderr[-3000:]
    _assert_same_bytes(inprocess, project)


def test_three_nodes_give_the_in_process_bytes(inprocess, cluster, tmp_path):
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    assert sum(node["Alive"] for node in ray.nodes()) == 3
    _assert_same_bytes(inprocess, _ray_build(inprocess, tmp_path / "ray3", cluster.address))


def _dedup_outputs(folder: Path):
    from jinstruct.outputs import OutputSet

    return OutputSet(folder / "deduped.parquet", folder / "rejects.parquet", folder / "dedup.json",
                     {"clusters": folder / "clusters.parquet", "index": folder / "index.parquet"})


def _slice_with_copies(name: str, source: Path, target: Path) -> None:
    """The pipeline tests' slice of a source, and for dolly_ja exact and near copies of 80 of its
    records as new upstream records (new indexes), so that dedup has clusters to decide."""
    import io
    import tarfile

    from tests.support.pipeline import _slice_file

    _slice_file(name, source, target)
    if name != "dolly_ja":
        return
    with tarfile.open(target) as archive:
        members = [(member, archive.extractfile(member).read() if member.isfile() else None) for member in archive]
    originals = [(member, data) for member, data in members if data is not None and "/data/" in member.name][:80]
    with tarfile.open(target, "w:gz") as out:
        for member, data in members:
            out.addfile(member, io.BytesIO(data) if data is not None else None)
        for number, (member, data) in enumerate(originals):
            record = json.loads(data.splitlines()[0])
            record["index"] = str(900_000 + number)
            if number >= 40:
                record["output"] += "以上です。"
            payload = (json.dumps(record, ensure_ascii=False) + "\n").encode()
            copy = tarfile.TarInfo(f"{member.name.rsplit('/', 1)[0]}/{900_000 + number}.jsonl")
            copy.size, copy.mtime = len(payload), member.mtime
            out.addfile(copy, io.BytesIO(payload))


def test_switching_engines_keeps_dvc_status_clean(cluster, tmp_path):
    """Real DVC in a real git repo: after an in-process `dvc repro` of the data stages, the same
    project with JINSTRUCT_ENGINE=ray is up to date for `dvc status`, and `dvc repro --force` of
    normalize, dedup and filter on the Ray cluster leaves dvc.lock byte for byte as it was
    (every output's md5 the in-process one)."""
    from tests.support.pipeline import build_slice_mirror, make_project, run

    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    mirror = build_slice_mirror(tmp_path, params, slice_file=_slice_with_copies)
    project, env = make_project(tmp_path, mirror, params)
    env = {key: value for key, value in env.items() if not key.startswith(("RAY_", "JINSTRUCT_"))}
    env["JINSTRUCT_MIRROR"] = str(mirror)
    dvc = [sys.executable, "-m", "dvc"]
    run([*dvc, "repro", "filter"], project, env)
    dedup = json.loads((project / "metrics/dedup.json").read_text())
    assert dedup["records_rejected"] > 0 and dedup["dedup"]["confirmed_near_pairs"] > 0
    assert json.loads((project / "metrics/normalize.json").read_text())["records_in"] > 3 * BLOCK_RECORDS
    lock = (project / "dvc.lock").read_bytes()
    assert b"dedup:" in lock and b"filter:" in lock

    status = [*dvc, "status", "--json", "--with-deps", "filter"]  # the stages run, not train's
    assert json.loads(run(status, project, env).stdout) == {}
    on_ray = {**env, "JINSTRUCT_ENGINE": "ray", "RAY_ADDRESS": cluster.address,
              "JINSTRUCT_RAY_BLOCK_RECORDS": str(BLOCK_RECORDS)}
    assert json.loads(run(status, project, on_ray).stdout) == {}
    for stage in ("normalize", "dedup", "filter"):
        done = run([*dvc, "repro", "--force", "-s", stage], project, on_ray)
        assert f"[{stage}] ray" in done.stdout + done.stderr, (done.stdout + done.stderr)[-3000:]
    assert (project / "dvc.lock").read_bytes() == lock
    assert json.loads(run(status, project, env).stdout) == {}


def test_dedup_on_ray_with_a_previous_index_gives_the_in_process_bytes(inprocess, cluster, monkeypatch, tmp_path):
    """With dedup.previous_index, dedup on Ray takes the bounded path too: the previous-release
    matches come from a task (the driver never runs them), and every output is the in-process bytes."""
    import pyarrow.parquet as pq

    import jinstruct.dedup.run as run
    import jinstruct.engine.dedup_bounded as bounded
    from jinstruct.dedup.index import _METADATA_KEY, write_index
    from jinstruct.engine.dedup import dedup_engine
    from jinstruct.params import settings_from
    from jinstruct.pipeline import RunSettings
    from jinstruct.pipeline.dedup import transform
    from jinstruct.stage import read_input, run_stage

    path = inprocess / "data/interim/normalized.parquet"
    params = yaml.safe_load((inprocess / "params.yaml").read_text(encoding="utf-8"))["dedup"]
    # every other record of the build's own index as the previous release: a record the build
    # rejected now matches its kept twin there (exactly or nearly), unless that twin was left out,
    # and then the two are a cluster of this build again
    built = inprocess / "data/interim/dedup_index.parquet"
    identity = json.loads(pq.read_metadata(built).metadata[_METADATA_KEY.encode()])
    write_index(pl.read_parquet(built).gather_every(2), identity, tmp_path / "previous.parquet")
    params = {**params, "previous_index": str(tmp_path / "previous.parquet")}
    run_settings = RunSettings(settings_from("dedup", params))
    run_stage("dedup", transform, run_settings, read_input(path), _dedup_outputs(tmp_path / "inprocess"))
    reasons = pl.read_parquet(tmp_path / "inprocess/rejects.parquet")["reason"].value_counts()
    assert set(reasons["reason"]) >= {"duplicate_of_previous_release", "exact_duplicate", "near_duplicate"}, reasons

    def on_the_driver(*_args, **_kwargs):
        raise AssertionError("the driver did per-record work")

    for module, name in ((run, "verify_pairs"), (bounded, "key_features"), (run, "key_features"),
                         (bounded, "previous_release_matches")):
        monkeypatch.setattr(module, name, on_the_driver)
    settings = EngineSettings(engine="ray", block_records=BLOCK_RECORDS)
    run_stage("dedup", transform, run_settings, read_input(path), _dedup_outputs(tmp_path / "ray"),
              engine=dedup_engine(path, settings))
    for name in ("deduped.parquet", "rejects.parquet", "clusters.parquet", "index.parquet", "dedup.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "inprocess" / name).read_bytes(), name
    assert not [p.name for p in path.parent.iterdir() if ".ray-shards-" in p.name]


def test_the_exact_shuffle_gives_each_row_the_smallest_row_of_its_task_and_key(cluster):
    """Exact roots by the (task, key) shuffle: a key repeated across blocks, the same key hash in
    two tasks (two roots), keys equal in one 64-bit half only; blocks handed over in any order give
    each row the smallest row with its task and key hash, counted here row by row."""
    import numpy as np

    from jinstruct.engine.dedup import exact_roots, key_rows

    rng = np.random.default_rng(15)
    keys = ["00" * 8 + "11" * 8, "00" * 8 + "22" * 8, "33" * 8 + "11" * 8, "ab" * 16, "0f" * 16]
    sizes = [130, 1, 69, 200, 100]  # blocks of uneven size, one of a single record
    total = sum(sizes)
    key_of = [keys[i] for i in rng.integers(0, len(keys), total)]
    task_of = rng.integers(1, 4, total).astype(np.uint32)
    key_of[total - 1], task_of[total - 1] = "77" * 16, 2  # a key of one record: its own root
    expected, first = [], {}
    for row in range(total):  # the in-process rule: the first row of each (task, key hash)
        expected.append(first.setdefault((int(task_of[row]), key_of[row]), row))
    expected = np.array(expected)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    assert len({task for (task, key) in first if key == keys[0]}) > 1  # a key in several tasks, a root in each
    block_of = np.searchsorted(starts, np.arange(total), side="right") - 1
    assert (block_of[expected] != block_of).any()  # some roots lie in another block than their rows

    def tables(order):
        return [ray.put(key_rows(task_of[starts[i]:starts[i + 1]], pl.Series(key_of[starts[i]:starts[i + 1]]),
                                 int(starts[i]))) for i in order]

    for order, partitions in (([0, 1, 2, 3, 4], 3), ([4, 2, 0, 3, 1], 7), ([3, 1, 4, 0, 2], 1)):
        roots = exact_roots(tables(order), total, partitions)
        assert roots.dtype == np.uint32
        assert np.array_equal(roots, expected), (order, partitions)


def test_dedup_on_ray_leaves_texts_and_sketches_on_the_workers(inprocess, cluster, monkeypatch, tmp_path):
    """The dedup stage on Ray computes no key feature, no exact root, verifies no pair and writes no
    record on the driver, whose frames hold only the accounted columns, yet publishes the in-process
    bytes."""
    import jinstruct.dedup.run as run
    import jinstruct.engine.dedup as engine_dedup
    import jinstruct.engine.dedup_bounded as bounded
    from jinstruct.engine.batches import ACCOUNTED
    from jinstruct.engine.dedup import dedup_engine
    from jinstruct.outputs import OutputSet
    from jinstruct.params import settings_from
    from jinstruct.pipeline import RunSettings
    from jinstruct.pipeline.dedup import transform
    from jinstruct.stage import read_input, run_stage

    def on_the_driver(*_args, **_kwargs):
        raise AssertionError("the driver did per-record work")

    for module, name in ((run, "verify_pairs"), (bounded, "key_features"), (run, "key_features"),
                         (bounded, "key_rows"), (engine_dedup, "smallest_rows")):
        monkeypatch.setattr(module, name, on_the_driver)
    seen = {}
    original = bounded.bounded_dedup

    def watched(*args, **kwargs):
        incoming, result = original(*args, **kwargs)
        seen["columns"] = set(result.kept.columns) | set(result.rejected.columns) | set(incoming.frame.columns)
        return incoming, result

    monkeypatch.setattr(bounded, "bounded_dedup", watched)
    path = inprocess / "data/interim/normalized.parquet"
    params = yaml.safe_load((inprocess / "params.yaml").read_text(encoding="utf-8"))["dedup"]
    outputs = OutputSet(tmp_path / "deduped.parquet", tmp_path / "rejects.parquet", tmp_path / "dedup.json",
                        {"clusters": tmp_path / "clusters.parquet", "index": tmp_path / "index.parquet"})
    settings = EngineSettings(engine="ray", block_records=BLOCK_RECORDS)
    run_stage("dedup", transform, RunSettings(settings_from("dedup", params)), read_input(path), outputs,
              engine=dedup_engine(path, settings))
    assert seen["columns"] <= set(ACCOUNTED)
    for ours, theirs in (("deduped.parquet", "data/interim/deduped.parquet"),
                         ("rejects.parquet", "data/rejects/dedup.parquet"),
                         ("clusters.parquet", "data/interim/dedup_clusters.parquet"),
                         ("index.parquet", "data/interim/dedup_index.parquet")):
        assert (tmp_path / ours).read_bytes() == (inprocess / theirs).read_bytes(), ours
    assert (tmp_path / "dedup.json").read_bytes() == (inprocess / "metrics/dedup.json").read_bytes()
    assert not [p.name for p in path.parent.iterdir() if ".ray-shards-" in p.name]


def test_a_block_of_many_arrow_chunks_is_filtered_like_the_whole_file(inprocess, tmp_path):
    """Ray hands a stage blocks made of many Arrow chunks (repartition concatenates slices);
    the filter must decide them exactly as the in-process run decided the whole file. (On the
    100k benchmark corpus, polars 2.1.0 panicked on such frames in the filters' gated checks
    until batches.block_frame made each block one chunk; this slice does not provoke that
    panic, so this test guards the equality, not the panic.)"""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jinstruct.engine.batches import _apply_packed
    from jinstruct.engine.filter_plan import filter_plan
    from jinstruct.engine.shards import shard_folder

    params = yaml.safe_load((inprocess / "params.yaml").read_text(encoding="utf-8"))
    plan = filter_plan(params["filter"], TEXT_FIELDS, inprocess / "data/eval", params.get("eval_sets"))
    table = pq.read_table(inprocess / "data/interim/deduped.parquet")
    chunked = pa.concat_tables([table.slice(start, 97) for start in range(0, table.num_rows, 97)])
    assert chunked.column("output").num_chunks > 10
    folder = shard_folder(tmp_path, "filter", "kept")
    packed = _apply_packed(chunked, plan, str(folder), str(folder)).to_pylist()[0]
    kept = pl.read_ipc(folder / packed["kept_shard"])
    expected = pl.read_parquet(inprocess / "data/interim/filtered.parquet")
    assert kept.height == expected.height and kept.equals(expected)


def test_normalize_on_ray_writes_the_input_row_groups_as_in_process(inprocess, cluster, tmp_path):
    """In-process, normalize keeps the input frame's chunks (one per input row group) and polars
    writes each as its own row groups; on Ray the combined shards must follow them."""
    from jinstruct.outputs import OutputSet
    from jinstruct.params import settings_from
    from jinstruct.pipeline import RunSettings
    from jinstruct.pipeline.normalize import transform
    from jinstruct.stage import read_input, run_stage

    records = pl.read_parquet(inprocess / "data/interim/converted.parquet")
    cut = records.height // 3 + 7  # row groups no writer of one chunk would choose
    converted = tmp_path / "converted.parquet"
    pl.concat([records.head(cut), records.slice(cut)], rechunk=False).write_parquet(converted)
    params = yaml.safe_load((inprocess / "params.yaml").read_text(encoding="utf-8"))["normalize"]
    run = RunSettings(settings_from("normalize", params))
    written = {}
    for name, engine in (("inprocess", None),
                         ("ray", normalize_plan(params, TEXT_FIELDS))):
        outputs = OutputSet(tmp_path / name / "normalized.parquet", tmp_path / name / "rejects.parquet",
                            tmp_path / name / "normalize.json")
        if engine is None:
            run_stage("normalize", transform, run, read_input(converted), outputs)
        else:
            from jinstruct.engine.batches import batch_engine

            run_stage("normalize", transform, run, read_input(converted), outputs,
                      engine=batch_engine("normalize", engine, converted,
                                          EngineSettings(engine="ray", block_records=BLOCK_RECORDS)))
        written[name] = [path.read_bytes() for path in (outputs.records, outputs.rejects, outputs.stats)]
    assert written["ray"] == written["inprocess"]


class _Bar:
    """A stand-in for a tqdm bar that remembers its unit, total and how far it got."""

    def __init__(self, unit: str, total: int | None):
        self.unit, self.total, self.done = unit, total, 0

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False

    def update(self, n: int = 1) -> None:
        self.done += n


def test_progress_bars_count_the_blocks_done(inprocess, cluster, monkeypatch, tmp_path):
    """Each Ray phase of normalize and dedup shows a bar in blocks whose total is the number of
    blocks of JINSTRUCT_RAY_BLOCK_RECORDS records and which reaches it."""
    import jinstruct.engine.batches as batches
    import jinstruct.engine.dedup as engine_dedup
    import jinstruct.engine.dedup_bounded as bounded
    from jinstruct.engine.dedup import dedup_engine
    from jinstruct.outputs import OutputSet
    from jinstruct.params import settings_from
    from jinstruct.pipeline import RunSettings
    from jinstruct.pipeline.dedup import transform
    from jinstruct.stage import read_input, run_stage

    bars: dict[str, _Bar] = {}

    def progress_bar(desc: str, total: int | None = None, unit: str = "rec") -> _Bar:
        bars[desc] = _Bar(unit, total)
        return bars[desc]

    for module in (batches, engine_dedup, bounded):
        monkeypatch.setattr(module, "progress_bar", progress_bar)
    project = _project_before_ray(inprocess, tmp_path / "bars")
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    _normalize_on_ray(project, normalize_plan(params["normalize"], TEXT_FIELDS))
    path = project / "data/interim/normalized.parquet"
    outputs = OutputSet(tmp_path / "deduped.parquet", tmp_path / "rejects.parquet", tmp_path / "dedup.json",
                        {"clusters": tmp_path / "clusters.parquet", "index": tmp_path / "index.parquet"})
    run_stage("dedup", transform, RunSettings(settings_from("dedup", params["dedup"])), read_input(path), outputs,
              engine=dedup_engine(path, EngineSettings(engine="ray", block_records=BLOCK_RECORDS)))
    converted = pl.scan_parquet(project / "data/interim/converted.parquet").select(pl.len()).collect().item()
    normalized = pl.scan_parquet(path).select(pl.len()).collect().item()
    blocks_in, blocks_normalized = -(-converted // BLOCK_RECORDS), -(-normalized // BLOCK_RECORDS)
    assert blocks_normalized > 3
    seen = {desc: (bar.unit, bar.total, bar.done) for desc, bar in bars.items()}
    assert seen == {"normalize on ray": ("block", blocks_in, blocks_in),
                    "dedup keys on ray": ("block", blocks_normalized, blocks_normalized),
                    "dedup exact on ray": ("block", blocks_normalized, blocks_normalized),
                    "dedup verify on ray": ("block", blocks_normalized, blocks_normalized),
                    "dedup outputs on ray": ("block", blocks_normalized, blocks_normalized)}


# --------------------------------------------------------------------------- losing a worker


class _DiesOnce:
    """A plan step whose worker process dies (os._exit, no cleanup) the first time it runs."""

    def __init__(self, inner, marker: Path, always: bool = False):
        self.inner, self.marker, self.always = inner, marker, always

    def __call__(self, records):
        if self.always or not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return self.inner(records)


def _normalize_paths(project: Path) -> dict:
    return {"records": project / "data/interim/normalized.parquet",
            "rejects": project / "data/rejects/normalize.parquet",
            "stats": project / "metrics/normalize.json"}


def _normalize_on_ray(project: Path, plan: BatchPlan) -> None:
    """The normalize stage through the one runner, with ``plan`` as its per-block work on Ray."""
    from jinstruct.engine.batches import batch_engine
    from jinstruct.outputs import OutputSet
    from jinstruct.stage import run_stage

    engine = batch_engine("normalize", plan, project / "data/interim/converted.parquet",
                          EngineSettings(engine="ray", block_records=BLOCK_RECORDS))
    run_stage("normalize", None, None, None, OutputSet(**_normalize_paths(project)), engine=engine)


def test_a_worker_killed_mid_stage_is_retried_to_the_same_bytes(inprocess, cluster, tmp_path):
    project = _project_before_ray(inprocess, tmp_path / "killed")
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["normalize"]
    plan = normalize_plan(params, TEXT_FIELDS)
    dying = BatchPlan(_DiesOnce(plan.apply, tmp_path / "died"), plan.merge_stats)
    _normalize_on_ray(project, dying)
    assert (tmp_path / "died").exists()  # a worker really died
    for name in ("data/interim/normalized.parquet", "data/rejects/normalize.parquet", "metrics/normalize.json"):
        assert (project / name).read_bytes() == (inprocess / name).read_bytes(), name


def test_a_worker_lost_beyond_retries_fails_cleanly_and_keeps_the_previous_outputs(inprocess, cluster, tmp_path):
    project = _project_before_ray(inprocess, tmp_path / "lost")
    paths = _normalize_paths(project)
    previous = {}
    for key in ("records", "rejects", "stats"):
        paths[key].parent.mkdir(parents=True, exist_ok=True)
        paths[key].write_bytes(b"previous " + key.encode())
        previous[key] = paths[key].read_bytes()
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["normalize"]
    plan = normalize_plan(params, TEXT_FIELDS)
    always = BatchPlan(_DiesOnce(plan.apply, tmp_path / "died", always=True), plan.merge_stats)
    with pytest.raises(EngineError) as failure:
        _normalize_on_ray(project, always)
    message = str(failure.value)
    assert "\n" not in message and "worker" in message and "previous outputs are untouched" in message
    assert {key: paths[key].read_bytes() for key in previous} == previous
    leftovers = [p.name for p in paths["records"].parent.iterdir()
                 if p.name.endswith(".tmp") or ".ray-shards-" in p.name]
    assert not leftovers
    inputs = [p.name for p in (project / "data/interim").iterdir() if ".ray-shards-" in p.name]
    assert not inputs  # the shards of the failed run are gone too


def test_a_stage_failing_after_the_engine_returns_leaves_no_shards_and_the_previous_outputs(inprocess, cluster,
                                                                                            tmp_path):
    """The runner's accounting finds a record missing after the workers wrote their shards: the
    stage fails, the previous outputs stay as they were, and no shard folder is left behind."""
    from jinstruct.engine.batches import batch_engine
    from jinstruct.outputs import OutputSet
    from jinstruct.stage import AccountingError, Incoming, run_stage

    project = _project_before_ray(inprocess, tmp_path / "unaccounted")
    paths = _normalize_paths(project)
    for key in ("records", "rejects", "stats"):
        paths[key].parent.mkdir(parents=True, exist_ok=True)
        paths[key].write_bytes(b"previous " + key.encode())
    previous = {key: paths[key].read_bytes() for key in paths}
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["normalize"]
    engine = batch_engine("normalize", normalize_plan(params, TEXT_FIELDS), project / "data/interim/converted.parquet",
                          EngineSettings(engine="ray", block_records=BLOCK_RECORDS))
    seen = {}

    def one_record_more(transform, read, settings):
        incoming, result = engine(transform, read, settings)
        seen["scratch"] = result.scratch
        assert all(folder.is_dir() and any(folder.iterdir()) for folder in result.scratch)  # shards were written
        extra = pl.DataFrame({"id": ["nowhere:1"], "source": ["nowhere"]})
        return Incoming(pl.concat([incoming.frame, extra])), result

    with pytest.raises(AccountingError):
        run_stage("normalize", None, None, None, OutputSet(**paths), engine=one_record_more)
    assert len(seen["scratch"]) == 2
    assert {key: paths[key].read_bytes() for key in paths} == previous
    leftovers = [p.name for folder in (project / "data/interim", project / "data/rejects", project / "metrics")
                 for p in folder.iterdir() if ".ray-shards-" in p.name or p.name.endswith(".tmp")]
    assert not leftovers
