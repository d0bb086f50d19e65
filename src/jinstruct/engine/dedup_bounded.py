"""The dedup stage on Ray with the driver holding a few columns per record, never texts or sketches.

The in-process ``dedup.run.dedup_records`` holds every record, its key features
and its sketches. Here the per-record bulk stays on the workers, in shards on
the filesystem every node reads (``engine/shards.py``), and the driver keeps
what the decisions need: id, source, task, group, output length and key
length of each record (Ray form of ``dedup.run._prepared``, without the key
hash), the rows, each record's exact root, the exact and confirmed edges, and
the verdicts.

1. features (one ``map_batches`` task per block): ``dedup.features.key_features``
   on the block; the task writes the block's records and its features (key
   hash, numbers hash, names, n-gram counts, signature, field sketches and
   sizes) as two shards and sends back the small columns above;
2. exact duplicates (Ray Data): a task per block reads the block's key hashes
   from its features shard and makes its key table (task code, key hash as two
   integers, row); the tables are repartitioned by (task, key), and each block
   of that shuffle gives every row the smallest row of its (task, key)
   (``engine.dedup.exact_roots``); only the rows whose root is another row come
   back, so the driver never holds a key hash;
3. LSH (Ray Data): each features shard's members (one row per distinct (task,
   key), signed) become (band, bucket, row) rows in a task, never on the driver;
   they are repartitioned by (band, bucket), paired within buckets
   (``engine.dedup._pairs_in_block``: ``lsh.candidate_pairs``'s rule),
   repartitioned by pair and verified per block by ``dedup.run.verify_candidates``
   on the rows it joins, which the task reads from the shards (projection and
   take: the block's own rows only); only confirmed pairs come back;
4. components, keep rule and reject details on the driver (``dedup.clusters``),
   the similarity of each near-duplicate reject to its kept record computed in
   tasks that read the two rows from the shards;
5. output: one task per block reads its records and features shards and writes
   its kept records (groups merged), its rejects (reason and detail from the
   driver) and its index rows as shards; ``stage.run_stage`` publishes them
   through writers that give the bytes of the in-process files.

Rows are positions in the input file (sorted by id by the stage before), so no
result depends on which task finished first.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import resource
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from jinstruct.dedup.clusters import components, merged_groups
from jinstruct.dedup.features import canonical_keys, key_features
from jinstruct.dedup.index import _METADATA_KEY, index_frame
from jinstruct.dedup.lsh import band_hashes, exact_similarity, signature_similarity
from jinstruct.dedup.previous import MATCHES_SCHEMA, RowSketches, previous_release_matches
from jinstruct.dedup.run import (
    STAGE,
    _cluster_table,
    _Signed,
    cluster_verdicts,
    previous_verdicts,
    ranked_members,
    verify_candidates,
)
from jinstruct.dedup.settings import DedupSettings, resolve_settings
from jinstruct.engine.batches import _ipc, accounted, block_frame, blocks, parquet_rows
from jinstruct.engine.dedup import (
    BAND_ROW_BYTES,
    KEY_ROW_BYTES,
    PAIR_BYTES,
    _npy,
    _pairs_in_block,
    candidates_in_block,
    confirmed_pairs,
    exact_roots,
    key_rows,
)
from jinstruct.engine.session import TASK_RETRIES, ray_session
from jinstruct.engine.settings import EngineSettings
from jinstruct.engine.shards import Shards, clear_shards, remove_folders, shard_folder, write_shard
from jinstruct.outputs import settled_input
from jinstruct.progress import progress_bar
from jinstruct.records import InputError
from jinstruct.stage import Incoming, StageResult, mark_rejected

log = logging.getLogger("jinstruct")


def _driver_peak(phase: str) -> None:
    """The driver's peak RSS so far, after ``phase``, and its RSS now with the part of it that is
    pages of Ray's shared object store (RssShmem: the store's memory, mapped here, not this
    process's own) (bench/ray_stages.py prints these lines).

    VmHWM of this process's memory, not ``ru_maxrss``: Linux carries ``ru_maxrss`` over an
    exec, so a stage started by a large process (the benchmark) would report that one's peak."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
                      if ":" in line)
        peak, now, shared = (int(fields[name].split()[0]) / 1024 for name in ("VmHWM", "VmRSS", "RssShmem"))
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        now = shared = float("nan")
    log.info(f"[dedup] ray driver peak after {phase}: {peak:.0f} MB (now {now:.0f} MB, "
             f"{shared:.0f} MB of it object store pages)")


_SMALL = pa.schema([("small", pa.large_binary()), ("records", pa.string()), ("features", pa.string()),
                    ("rows", pa.int64())])


def _small_columns(records: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """``dedup.run._prepared``'s per-record columns, before the rows are numbered (the key hash
    stays in the features shard: exact duplicates are found by a shuffle, ``_exact_roots``)."""
    task = pl.col("task").cast(pl.String).fill_null("") if "task" in records.columns else pl.lit("")
    group = pl.col("group").cast(pl.String).fill_null(pl.col("id")) if "group" in records.columns else pl.col("id")
    return pl.concat([
        records.select(pl.col("id").cast(pl.String), pl.col("source").cast(pl.String), _task=task, _group=group,
                       _output_chars=pl.col("output").cast(pl.String).str.len_chars().fill_null(0)
                       if "output" in records.columns else pl.lit(0, pl.UInt32)),
        frame.select("_key_chars"),
    ], how="horizontal")


_ELEMENTS = {np.dtype(np.uint16): pl.UInt16, np.dtype(np.int32): pl.Int32, np.dtype(np.int64): pl.Int64}


def _array(matrix: np.ndarray) -> pl.Series:
    """A (rows, k) matrix as one fixed-width list per row (as ``dedup.index.index_frame`` stores it)."""
    return pl.Series(matrix, dtype=pl.Array(_ELEMENTS[matrix.dtype], matrix.shape[1]))


def _features_task(batch: pa.Table, settings: DedupSettings, folder: str) -> pa.Table:
    records = block_frame(batch)
    features = key_features(records, settings)
    small = _small_columns(records, features.frame)
    shard = pl.concat([small.select("id", "_task"), features.frame], how="horizontal").with_columns(
        signature=_array(features.signatures), field_sketch=_array(features.fields),
        field_sizes=_array(features.sizes))
    return pa.table([[_ipc(small)], [write_shard(records, folder)], [write_shard(shard, folder)], [records.height]],
                    schema=_SMALL)


class _Shards:
    """The records and features shards of every block, and each block's first row."""

    def __init__(self, folder: Path, records: list[str], features: list[str], sizes: list[int]):
        self.folder, self.records, self.features = str(folder), records, features
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def rows_by_block(self, rows: np.ndarray):
        """(block, local rows) for ascending global ``rows``."""
        block = np.searchsorted(self.offsets, rows, side="right") - 1
        for index in np.unique(block):
            yield int(index), rows[block == index] - self.offsets[index]

    def gather(self, rows: np.ndarray, fields: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The key fields and the features of ascending ``rows``, read from their shards."""
        texts, features = [], []
        for index, local in self.rows_by_block(rows):
            take = pl.Series(local.astype(np.int64))
            texts.append(pl.read_ipc(Path(self.folder) / self.records[index], columns=list(fields))[take])
            features.append(pl.read_ipc(Path(self.folder) / self.features[index])[take])
        return pl.concat(texts, rechunk=True), pl.concat(features, rechunk=True)


def _signed(features: pl.DataFrame) -> _Signed:
    return _Signed(features["signature"].to_numpy(), features["field_sketch"].to_numpy(),
                   features["field_sizes"].to_numpy(), np.empty(0, dtype=np.int64))


def _key_table(index: int, shards: _Shards, task_codes: np.ndarray) -> pa.Table:
    """The key table (``engine.dedup.key_rows``) of block ``index``, its key hashes read from its
    features shard."""
    hashes = pl.read_ipc(Path(shards.folder) / shards.features[index], columns=["_key_hash"])["_key_hash"]
    return key_rows(task_codes, hashes, int(shards.offsets[index]))


def _exact_roots(shards: _Shards, task_code: np.ndarray) -> np.ndarray:
    """Each row's exact root, the smallest row with its task and key hash (``dedup.run._prepared``'s
    ``_exact_root``), by the (task, key) shuffle of ``engine.dedup.exact_roots``."""
    import ray

    task = ray.remote(max_retries=TASK_RETRIES)(_key_table)
    refs = [task.remote(index, shards, task_code[shards.offsets[index]:shards.offsets[index + 1]])
            for index in range(len(shards.records))]
    return exact_roots(refs, int(shards.offsets[-1]), max(1, len(shards.records)))


def _band_rows(index: int, members: np.ndarray, shards: _Shards, task_codes: np.ndarray,
               settings: DedupSettings) -> pa.Table:
    """(band, bucket, row) of the LSH members (global rows, ascending) of block ``index``."""
    local = members - shards.offsets[index]
    signatures = pl.read_ipc(Path(shards.folder) / shards.features[index], columns=["signature"])["signature"]
    signatures = signatures.to_numpy()
    partitions = np.zeros(signatures.shape[0], dtype=np.int64)
    partitions[local] = task_codes
    bands = np.stack([band_hashes(signatures, local, band, settings.rows, partitions)
                      for band in range(settings.bands)], axis=1)
    return pa.table({
        "band": np.repeat(np.arange(settings.bands, dtype=np.int16)[None, :], local.size, axis=0).ravel(),
        "bucket": bands.ravel(),
        "row": np.repeat(members, settings.bands),
    })


_VERIFIED = pa.schema([("confirmed", pa.large_binary()), ("candidates", pa.int64()), ("refused", pa.int64()),
                       ("copies", pa.int64())])


def _verify_block(batch: pa.Table, payload: list, total: int, settings: DedupSettings) -> pa.Table:
    """The candidates of this block (``engine.dedup.candidates_in_block``), verified by
    ``verify_candidates`` on the rows they join, read from the shards."""
    import ray

    shared = ray.get(payload[0])
    block = candidates_in_block(batch, shared["task_code"], total)
    confirmed, refused = np.empty(0, dtype=np.int64), 0
    if block.count:
        involved = block.involved
        texts, features = shared["shards"].gather(involved, settings.fields)
        work = features.select("_shingles", "_numbers_hash", "_names").with_columns(
            _group_code=pl.Series(shared["group_code"][involved]), _task_code=pl.Series(shared["task_code"][involved]))
        pairs, refused = verify_candidates(texts, work, _signed(features), settings,
                                           shared["excluded"][involved], block.local)
        confirmed = involved[pairs[:, 0]] * np.int64(total) + involved[pairs[:, 1]]
    return pa.table([[_npy(confirmed.astype(np.int64))], [block.count], [refused], [block.copies]], schema=_VERIFIED)


def _previous_matches(shards: _Shards, settings: DedupSettings, identity: dict) -> tuple[bytes, int]:
    """``dedup.previous.previous_release_matches`` in one task, on the features read from the
    shards: the records matching the previous release (IPC) and the pairs the names rule refused.

    The task holds what the in-process run holds for this step: every record's small columns and
    sketches and the previous release's index (about 0.6 KB per record plus the index)."""
    features = pl.concat([pl.read_ipc(Path(shards.folder) / name) for name in shards.features], rechunk=True)
    work = features.select("id", "_task", "_key_hash", "_shingles", "_numbers_hash", "_names").with_row_index(
        "_row").with_columns(_exact_root=pl.col("_row").min().over("_task", "_key_hash"))
    members = work.filter((pl.col("_row") == pl.col("_exact_root")) & (features["_key_chars"] >= settings.ngram))
    sketches = RowSketches(features["signature"].to_numpy(), features["field_sketch"].to_numpy(),
                           features["field_sizes"].to_numpy(), work["_shingles"].to_numpy(),
                           work["_numbers_hash"].to_numpy(), work["_names"])
    del features
    matches, refused = previous_release_matches(work, sketches, members["_row"].to_numpy().astype(np.int64),
                                                settings, identity)
    return _ipc(matches), refused


def _similarities(left: np.ndarray, right: np.ndarray, shards: _Shards, settings: DedupSettings) -> np.ndarray:
    """``dedup.run._similarity`` of row pairs, on the two rows read from the shards."""
    involved = np.unique(np.concatenate([left, right]))
    texts, features = shards.gather(involved, settings.fields)
    a, b = np.searchsorted(involved, left), np.searchsorted(involved, right)
    if settings.verify != "exact":
        return signature_similarity(features["signature"].to_numpy(), a, b)
    keys = canonical_keys(texts, settings).to_list()
    return exact_similarity(keys, a, b, settings.ngram)


_WRITTEN = pa.schema([("kept", pa.large_binary()), ("rejected", pa.large_binary())])


def _output_block(index: int, shards: _Shards, folders: dict[str, str], ngram: int, rejected_local: np.ndarray,
                  reasons: list[str], details: list[str], groups: pl.Series | None) -> dict:
    """One block's kept records, rejects and index rows as shards (``dedup_records``' last steps)."""
    records = pl.read_ipc(Path(shards.folder) / shards.records[index])
    features = pl.read_ipc(Path(shards.folder) / shards.features[index])
    mask = np.zeros(records.height, dtype=bool)
    mask[rejected_local] = True
    keep = pl.Series(~mask)
    kept = records.filter(keep)
    if groups is not None:
        kept = kept.with_columns(groups.filter(keep).alias("group"))
    rejected = mark_rejected(records.filter(pl.Series(mask)), STAGE, pl.Series(reasons, dtype=pl.String),
                             pl.Series(details, dtype=pl.String))
    index_rows = features.filter(keep)
    index = index_frame(index_rows["id"], index_rows["_task"], index_rows["_key_hash"], index_rows["_numbers_hash"],
                        index_rows["signature"].to_numpy(), index_rows["field_sketch"].to_numpy(),
                        index_rows["field_sizes"].to_numpy(),
                        (index_rows["_key_chars"] >= ngram).to_numpy(),
                        index_rows["_shingles"], index_rows["_names"])
    return {"kept": (write_shard(kept, folders["kept"]), kept.height),
            "rejected": (write_shard(rejected, folders["rejected"]), rejected.height),
            "index": (write_shard(index, folders["index"]), index.height),
            "accounted": (_ipc(accounted(kept)), _ipc(accounted(rejected)))}


def bounded_dedup(run, input_path: Path, settings: EngineSettings) -> tuple[Incoming, StageResult]:
    """The dedup stage's (incoming, result) with the per-record bulk left on the workers."""
    path = settled_input(Path(input_path))
    rows_total = parquet_rows(path)
    dedup = resolve_settings(run.params.as_params(), list(run.text_fields) if run.fields_given else None)
    columns = pl.read_parquet_schema(path)
    missing = [name for name in dedup.fields if name not in columns]
    if missing:
        raise InputError(f"dedup: no column {', '.join(map(repr, missing))} to build the dedup key from "
                         f"(columns: {', '.join(columns)}); set dedup.fields or --text-field")
    identity = dedup.index_identity()
    clear_shards(path.parent, STAGE)
    folders = {role: shard_folder(path.parent, STAGE, role) for role in ("blocks", "kept", "rejected", "index")}
    try:
        return _run(path, rows_total, dedup, identity, folders, settings)
    except BaseException:
        remove_folders(*folders.values())  # no output of this run is kept
        raise
    finally:
        remove_folders(folders["blocks"])  # the others go once published


def _run(path: Path, rows_total: int, dedup: DedupSettings, identity: dict, folders: dict[str, Path],
         settings: EngineSettings) -> tuple[Incoming, StageResult]:
    one_thread = dataclasses.replace(dedup, n_jobs=1)  # Ray's workers are the parallelism
    if one_thread.previous_index:  # the workers do not run in the driver's folder
        one_thread = dataclasses.replace(one_thread, previous_index=str(Path(one_thread.previous_index).resolve()))
    with ray_session(settings):
        # 1. features on the workers; the small columns come back
        packed = blocks(path, settings).map_batches(
            _features_task, fn_kwargs={"settings": one_thread, "folder": str(folders["blocks"])},
            batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES)
        small, record_shards, feature_shards, sizes = [], [], [], []
        with progress_bar("dedup keys on ray", total=math.ceil(rows_total / settings.block_records),
                          unit="block") as bar:
            for table in packed.iter_batches(batch_format="pyarrow", batch_size=None):
                for row in table.to_pylist():
                    small.append(pl.read_ipc(io.BytesIO(row["small"])))
                    record_shards.append(row["records"])
                    feature_shards.append(row["features"])
                    sizes.append(row["rows"])
                    bar.update(1)
        if sum(sizes) != rows_total:
            raise RuntimeError(f"dedup on ray: {sum(sizes)} records came back from the workers, {rows_total} went in")
        shards = _Shards(folders["blocks"], record_shards, feature_shards, sizes)
        work = pl.concat(small, rechunk=True)
        del small
        # codes as UInt32, dense ranks as dedup.run numbers them (the values, not the width, matter);
        # a task's rank from the sorted distinct tasks (few), not by ranking every record
        tasks = work["_task"].unique().sort()
        work = work.with_row_index("_row").with_columns(
            _has_signature=pl.col("_key_chars") >= dedup.ngram,
            _task_code=pl.col("_task").replace_strict(dict(zip(tasks.to_list(), range(1, tasks.len() + 1))),
                                                      return_dtype=pl.UInt32),
            _group_code=pl.col("_group").rank("dense").cast(pl.UInt32),
        ).drop("_key_chars")
        _driver_peak("features")
        # 2. exact duplicates: same task and key hash, by a shuffle on the workers. Cluster members
        # always share a task (no pair crosses tasks), so within a cluster "same key hash" is "same
        # exact root": the root stands in for the hash in the keep rule (``ranked_members`` compares
        # ``_key_hash``), and the hash itself never reaches the driver
        task_code = work["_task_code"].to_numpy()
        exact_root = _exact_roots(shards, task_code)
        work = work.with_columns(_key_hash=pl.Series(exact_root))
        _driver_peak("exact roots")
        members = np.flatnonzero((exact_root == np.arange(exact_root.size)) & work["_has_signature"].to_numpy())
        total = work.height
        # 2b. records duplicating a previous release (dedup.previous.previous_release_matches, in one task)
        previous, previous_refused = pl.DataFrame(schema=MATCHES_SCHEMA), 0
        if one_thread.previous_index:
            import ray

            matched, previous_refused = ray.get(
                ray.remote(max_retries=TASK_RETRIES)(_previous_matches).remote(shards, one_thread, identity))
            previous = pl.read_ipc(io.BytesIO(matched))
        excluded = np.zeros(total, dtype=bool)
        excluded[previous["_row"].to_numpy()] = True
        # 3. LSH and verification on the workers
        near_pairs, candidates, names_refused, near_shuffled = _near_pairs(members, shards, task_code, work,
                                                                           excluded, dedup, settings, total)
        shuffled = total * KEY_ROW_BYTES + near_shuffled
        _driver_peak("near pairs")
        # exact edges: every record to the first of its (task, key hash) among those not matched to the
        # previous release (dedup_records' exact pairs without the pairs of a record with itself)
        exact_pairs = _exact_pairs(exact_root, excluded)
        del exact_root
        roots = components(total, np.concatenate([exact_pairs, near_pairs]))
        near_count = int(near_pairs.shape[0])
        del exact_pairs, near_pairs
        # 4. verdicts
        work = work.with_columns(_cluster=pl.Series(roots))
        ranked_members, verdict = _verdicts(work, dedup, shards, previous, excluded)
        _driver_peak("verdicts")
        groups = merged_groups(work["_group"], work["_group_code"].to_numpy(), roots)
        del roots
        # 5. the outputs, block by block
        result = _write_outputs(path, shards, folders, verdict, groups, dedup)
    _driver_peak("outputs")
    shard_bytes = sum(item.stat().st_size for folder in folders.values() for item in folder.iterdir())
    log.info(f"[dedup] ray: shuffled {shuffled} bytes (key table by (task, key), band table by (band, bucket), "
             f"candidate pairs by pair); wrote {shard_bytes} bytes of shards")
    stats = {"dedup": {
        "lsh_bands": dedup.bands, "lsh_rows": dedup.rows, "threshold": dedup.threshold,
        "containment": dedup.containment, "ngram": dedup.ngram, "num_perm": dedup.num_perm,
        "short_records": int((~work["_has_signature"]).sum()),
        "signed_keys": int(members.size), "candidate_pairs": candidates,
        "confirmed_near_pairs": near_count,
        "names_refused": names_refused, "previous_release_names_refused": previous_refused,
        "clusters": int(ranked_members.filter(pl.col("_rank") == 0).height),
        "largest_cluster": int(ranked_members.group_by("_cluster").len()["len"].max() or 0)
        if ranked_members.height else 0,
        "groups_merged": int(work["_group"].n_unique() - groups.n_unique()),
    }}
    clusters = _cluster_table(ranked_members, verdict, work)
    kept, rejected, index = result
    return (Incoming(_incoming(path, work)),
            StageResult(kept[0], rejected[0], stats,
                        artifacts={"clusters": clusters,
                                   "index": lambda target: index.write_parquet(
                                       target, {_METADATA_KEY: json.dumps(identity, sort_keys=True)})},
                        writers={"records": kept[1].writer, "rejects": rejected[1].writer},
                        scratch=tuple(folders.values())))


def _exact_pairs(exact_root: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """(first row, row) for every record not matched to the previous release that has an earlier
    one with its task and key hash (same exact root) also not matched: ``dedup_records``' exact
    pairs, without those of a record with itself."""
    rows = np.flatnonzero(~excluded)
    first = np.full(exact_root.size, exact_root.size, dtype=np.int64)
    np.minimum.at(first, exact_root[rows], rows)
    roots = first[exact_root[rows]]
    later = roots != rows
    return np.stack([roots[later], rows[later]], axis=1)


def _incoming(path: Path, work: pl.DataFrame) -> pl.DataFrame:
    """id and source of every input record, for the runner's accounting: the driver's own columns
    (no second copy) when the file holds them as text, as the stage before writes them."""
    schema = pl.read_parquet_schema(path)
    if schema.get("id") == pl.String and schema.get("source") == pl.String:
        return work.select("id", "source")
    return pl.read_parquet(path, columns=["id", "source"])


def _near_pairs(members: np.ndarray, shards: _Shards, task_code: np.ndarray, work: pl.DataFrame,
                excluded: np.ndarray, dedup: DedupSettings, settings: EngineSettings,
                total: int) -> tuple[np.ndarray, int, int, int]:
    """(confirmed pairs, candidates, names refused, bytes shuffled: the band table and the copies of
    the candidate pairs)."""
    import ray
    import ray.data

    if members.size < 2:
        return np.empty((0, 2), dtype=np.int64), 0, 0, 0
    band_task = ray.remote(max_retries=TASK_RETRIES)(_band_rows)
    refs = [band_task.remote(index, local + shards.offsets[index], shards, task_code[local + shards.offsets[index]],
                             dedup)
            for index, local in shards.rows_by_block(members)]
    partitions_count = max(1, len(shards.records))
    candidates_ds = (ray.data.from_arrow_refs(refs)
                     .repartition(partitions_count, keys=["band", "bucket"])
                     .map_batches(_pairs_in_block, fn_kwargs={"window": dedup.bucket_window, "total": total},
                                  batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES))
    payload = [ray.put({"shards": shards, "task_code": task_code, "excluded": excluded,
                        "group_code": work["_group_code"].to_numpy()})]
    verified = (candidates_ds.repartition(partitions_count, keys=["pair"])
                .map_batches(_verify_block, fn_kwargs={"payload": payload, "total": total, "settings": dedup},
                             batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES))
    pairs, candidates, refused, copies = confirmed_pairs(verified, partitions_count, total)
    return pairs, candidates, refused, int(members.size) * dedup.bands * BAND_ROW_BYTES + copies * PAIR_BYTES


def _verdicts(work: pl.DataFrame, dedup: DedupSettings, shards: _Shards, previous: pl.DataFrame,
              excluded: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``dedup.run._verdicts``, the similarities computed in tasks."""
    import ray

    roots = work["_cluster"].to_numpy()
    in_cluster = (np.bincount(roots, minlength=roots.size)[roots] > 1) & ~excluded  # not a window over every record
    members, rejected = ranked_members(work, pl.lit(pl.Series(in_cluster)), dedup.source_priority)
    left = rejected["_row"].to_numpy().astype(np.int64)
    right = rejected["_kept_row"].to_numpy().astype(np.int64)
    is_exact = (rejected["_key_hash"] == rejected["_kept_key_hash"]).to_numpy()
    similarity = np.ones(left.size)
    near = np.flatnonzero(~is_exact)
    if near.size:
        task = ray.remote(max_retries=TASK_RETRIES)(_similarities)
        chunk = 50_000
        parts = [task.remote(left[near[start:start + chunk]], right[near[start:start + chunk]], shards, dedup)
                 for start in range(0, near.size, chunk)]
        similarity[near] = np.concatenate(ray.get(parts))
    verdict = pl.concat([cluster_verdicts(rejected, similarity, is_exact, dedup), previous_verdicts(previous)])
    return members, verdict.sort("_row")


def _write_outputs(path: Path, shards: _Shards, folders: dict[str, Path], verdict: pl.DataFrame,
                   groups: pl.Series, dedup: DedupSettings):
    import ray

    has_group = "group" in pl.read_parquet_schema(path)
    task = ray.remote(max_retries=TASK_RETRIES)(_output_block)
    names = {role: str(folder) for role, folder in folders.items()}
    rejected_rows = verdict["_row"].to_numpy().astype(np.int64)
    block_of = np.searchsorted(shards.offsets, rejected_rows, side="right") - 1
    refs = []
    for index in range(len(shards.records)):
        start, stop = shards.offsets[index], shards.offsets[index + 1]
        mine = np.flatnonzero(block_of == index)
        part = verdict[mine] if mine.size else verdict.clear()
        refs.append(task.remote(index, shards, names, dedup.ngram, rejected_rows[mine] - start,
                                part["_reason"].to_list(), part["_detail"].to_list(),
                                groups.slice(start, stop - start) if has_group else None))
    kept_shards, rejected_shards, index_shards = (Shards(folders[role], []) for role in ("kept", "rejected", "index"))
    kept, rejected = [], []
    with progress_bar("dedup outputs on ray", total=len(refs), unit="block") as bar:
        for ref in refs:  # in block order
            done = ray.get(ref)
            kept_shards.parts.append(done["kept"])
            rejected_shards.parts.append(done["rejected"])
            index_shards.parts.append(done["index"])
            kept.append(pl.read_ipc(io.BytesIO(done["accounted"][0])))
            rejected.append(pl.read_ipc(io.BytesIO(done["accounted"][1])))
            bar.update(1)
    if kept_shards.rows + rejected_shards.rows != int(shards.offsets[-1]):
        raise RuntimeError("dedup on ray: the output shards do not hold every record")
    # in-process, the kept and rejected frames are filters of the input frame, whose chunks are
    # the input file's row groups, and polars writes each chunk as its own row groups
    metadata = pq.ParquetFile(path).metadata
    groups_end = np.cumsum([metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)])
    rejected_per_group = np.bincount(np.searchsorted(groups_end, rejected_rows, side="right"),
                                     minlength=groups_end.size).astype(np.int64)
    group_rows = np.diff(np.concatenate([[0], groups_end]))
    kept_shards.chunks = [int(n) for n in group_rows - rejected_per_group if n]
    rejected_shards.chunks = [int(n) for n in rejected_per_group if n]
    return ((pl.concat(kept, rechunk=True), kept_shards), (pl.concat(rejected, rechunk=True), rejected_shards),
            index_shards)
