"""The instruction-record contract shared by every stage.

A record is one row with the columns in ``SCHEMA_FIELDS`` (see
docs/architecture.md). Stages may add columns but never drop these. This module
owns reading and writing record files (JSONL and Parquet), atomic writes, and
the dataset hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import polars as pl

SCHEMA_FIELDS = ("id", "source", "task", "instruction", "input", "output", "license")
TEXT_FIELDS = ("instruction", "input", "output")
REJECT_FIELDS = ("stage", "reason", "detail")
SPLIT_NAMES = ("train", "validation", "test")
# data/interim/dedup_clusters.parquet (written by dedup, read by the report): one row per member
# of every duplicate cluster; the kept record has kept=True and similarity 1.
CLUSTER_SCHEMA = {"cluster_id": pl.String, "id": pl.String, "source": pl.String, "task": pl.String,
                  "kept": pl.Boolean, "reason": pl.String, "similarity": pl.Float64}

# Parquet settings fixed here so that the same frame always gives the same bytes.
_PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "statistics": True}


class InputError(Exception):
    """Bad input the user can fix: reported as one line, never as a traceback."""


# --------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    A stage killed half-way leaves the previous file (or none), never a torn one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the mode an ordinary open() would.
        umask = os.umask(0)
        os.umask(umask)
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(df: pl.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, **_PARQUET_OPTIONS)


def write_jsonl(df: pl.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for row in df.iter_rows(named=True):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_records(df: pl.DataFrame, path: str | os.PathLike) -> None:
    """Write by suffix: ``.jsonl``/``.json`` as JSON Lines, anything else as Parquet."""
    if Path(path).suffix in (".jsonl", ".json"):
        write_jsonl(df, path)
    else:
        write_parquet(df, path)


def write_json(obj: object, path: str | os.PathLike) -> None:
    """Pretty, key-sorted JSON: stable bytes for stats, manifests and metrics."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- reading


def parse_error_frame(rows: list[dict]) -> pl.DataFrame:
    """Rejects for lines that could not be parsed: file and line in ``detail``."""
    schema = {name: pl.String for name in (*SCHEMA_FIELDS, *REJECT_FIELDS)}
    return pl.DataFrame(rows, schema=schema)


def _read_jsonl(path: Path, stage: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    records: list[dict] = []
    broken: list[dict] = []
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path.name}:{line_number}"
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                broken.append(_broken(where, stage, "parse_error", f"{where}: invalid UTF-8 at byte {exc.start}"))
                continue
            except json.JSONDecodeError as exc:
                broken.append(_broken(where, stage, "parse_error", f"{where}: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(value, dict):
                broken.append(_broken(where, stage, "parse_error", f"{where}: a JSON {type(value).__name__}, not an object"))
                continue
            value.setdefault("__line__", line_number)
            records.append(value)
    frame = pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame()
    return frame, parse_error_frame(broken)


def _broken(where: str, stage: str, reason: str, detail: str) -> dict:
    return {"id": f"parse:{where}", "source": None, "task": None, "instruction": None, "input": None,
            "output": None, "license": None, "stage": stage, "reason": reason, "detail": detail}


def read_table(path: str | os.PathLike, stage: str = "read") -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read any JSONL or Parquet file: (rows, parse-error rejects).

    JSONL rows carry their 1-based line number in ``__line__`` so that callers can
    build ids and error messages. An unreadable file raises InputError.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (no records)")
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        return _read_jsonl(path, stage)
    try:
        return pl.read_parquet(path), parse_error_frame([])
    except Exception as exc:  # polars raises several types for corrupt files
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None


def check_text_columns(df: pl.DataFrame, fields: Iterable[str], path: str | os.PathLike) -> None:
    """Stop with one line when a text column is missing or not a string column."""
    for field in fields:
        if field not in df.columns:
            raise InputError(f"{path}: no column {field!r} (columns: {', '.join(df.columns)}); "
                             "name the text columns with --text-field")
        dtype = df.schema[field]
        if dtype not in (pl.String, pl.Null):
            raise InputError(f"{path}: column {field!r} holds {dtype}, expected text")


def read_records(path: str | os.PathLike) -> pl.DataFrame:
    """Read a file written by a pipeline stage, checking the record schema."""
    df, _ = read_table(path)
    missing = [f for f in SCHEMA_FIELDS if f not in df.columns]
    if missing:
        raise InputError(f"{path}: not instruction records (missing {', '.join(missing)})")
    check_text_columns(df, SCHEMA_FIELDS, path)
    return df


# --------------------------------------------------------------------------- hashing


def canonical_lines(df: pl.DataFrame) -> Iterator[bytes]:
    """Each record as compact, key-sorted UTF-8 JSON plus newline, sorted by id."""
    for row in df.sort("id").iter_rows(named=True):
        yield (json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def dataset_hash(splits: Mapping[str, pl.DataFrame]) -> str:
    """sha256 of the canonical form of the splits (DESIGN.md "Dataset hash").

    Splits are taken in ``SPLIT_NAMES`` order (then any others by name); each is
    introduced by a header line ``{"split":NAME,"records":N}`` so that moving a
    record between splits changes the hash. Independent of Parquet encoding.
    """
    order = [name for name in SPLIT_NAMES if name in splits] + sorted(set(splits) - set(SPLIT_NAMES))
    digest = hashlib.sha256()
    for name in order:
        frame = splits[name]
        digest.update((json.dumps({"records": frame.height, "split": name}, separators=(",", ":")) + "\n").encode())
        for line in canonical_lines(frame):
            digest.update(line)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
