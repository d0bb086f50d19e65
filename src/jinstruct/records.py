"""The instruction-record contract shared by every stage.

A record is one row with the columns in ``SCHEMA_FIELDS`` (see
docs/architecture.md). Stages may add columns but never drop these. This module
owns reading and writing record files (JSONL and Parquet), atomic writes, and
the dataset hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
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
    """One JSON object per row and line, by polars' NDJSON writer: UTF-8 unescaped, the frame's
    column order, compact separators, NaN written as null. Line-oriented, so frames written one
    after the other give the bytes of their concatenation (engine/shards.py relies on it)."""
    with atomic_path(path) as tmp:
        df.write_ndjson(tmp)


OUTPUT_SUFFIXES = (".jsonl", ".json", ".parquet")


def write_records(df: pl.DataFrame, path: str | os.PathLike) -> None:
    """Write by suffix: ``.jsonl``/``.json`` as JSON Lines, ``.parquet`` as Parquet; others are refused."""
    suffix = Path(path).suffix
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"{path}: unknown output format {suffix or '(no extension)'!r}; "
                         f"name the file {', '.join('*' + s for s in OUTPUT_SUFFIXES)}")
    df = df.drop(LINE_COLUMN, strict=False)
    if suffix == ".parquet":
        write_parquet(df, path)
    else:
        write_jsonl(df, path)


def write_json(obj: object, path: str | os.PathLike) -> None:
    """Pretty, key-sorted JSON: stable bytes for stats, manifests and metrics."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- reading


LINE_COLUMN = "__jinstruct_line__"  # 1-based line (JSONL) or item (JSON array) of each row; dropped before writing
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_BOM = b"\xef\xbb\xbf"
# When polars refuses a block of lines, the block is cut into _CHUNK_PARTS parts and each retried, down
# to _SMALLEST_CHUNK lines, which are checked one by one: a few bad lines cost little of the fast path.
_CHUNK_PARTS = 8
_SMALLEST_CHUNK = 256
# a JSON \u escape of a UTF-16 surrogate: valid only in pairs, so such lines are checked one by one
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")
# text values that polars may have turned into text from another JSON type ({..}, [..], numbers, booleans)
_WHITESPACE = b" \t\r\n\f\v"
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
_LEADING_BLANK = re.compile(rb"[ \t\r\f\v]*\n")
_MAYBE_COERCED = r"^(?:[\[{]|-?[0-9]|true$|false$)"
# files from this size on take _read_flat: below it, loading the compiled scan (numba) costs more than
# polars' row-by-row schema inference (~0.6 CPU-s per 100k records of 1.3 KB) that it saves
FLAT_SCAN_FROM_BYTES = 16 << 20


def parse_error_frame(rows: list[dict]) -> pl.DataFrame:
    """Rejects for lines that could not be parsed: file and line in ``detail``."""
    schema = {name: pl.String for name in (*SCHEMA_FIELDS, *REJECT_FIELDS)}
    return pl.DataFrame(rows, schema=schema)


def lone_surrogate(value: object) -> bool:
    """True when a parsed JSON value holds a lone UTF-16 surrogate (which no UTF-8 file can store)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _line_problem(raw: bytes, text_fields: Iterable[str]) -> str | None:
    """Why one JSONL line is not a usable record (None when it is): the careful, per-line check."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return "not JSON: nested too deeply"
    if not isinstance(value, dict):
        return f"{_json_type(value)}, not an object"
    if lone_surrogate(value):
        return "a lone UTF-16 surrogate escape (\\ud800-\\udfff) that is no character"
    for field in text_fields:
        if value.get(field) is not None and not isinstance(value[field], str):
            return f"field {field!r} holds {_json_type(value[field])}, expected text"
    return None


def _ndjson(lines: list[bytes]) -> pl.DataFrame:
    # every row decides the schema: polars' default looks at the first 100 only and drops later keys
    return pl.read_ndjson(io.BytesIO(b"\n".join(lines)), infer_schema_length=None)


def _suspect_rows(frame: pl.DataFrame, lines: list[bytes], text_fields: Iterable[str]) -> set[int]:
    """Rows of a fast read that need the per-line check: surrogate escapes, text that was another type."""
    suspects = {i for i, raw in enumerate(lines) if b"\\" in raw and _SURROGATE_ESCAPE.search(raw)}
    for field in text_fields:
        if field in frame.columns and frame.schema[field] == pl.String:
            hits = frame.select(pl.arg_where(pl.col(field).str.contains(_MAYBE_COERCED)))
            suspects.update(hits.to_series().to_list())
    return suspects


def _text_ok(frame: pl.DataFrame, text_fields: Iterable[str]) -> bool:
    return all(frame.schema.get(field, pl.String) in (pl.String, pl.Null) for field in text_fields)


def _drop_suspects(frame: pl.DataFrame, numbers: list[int], lines: list[bytes],
                   text_fields: tuple[str, ...]) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Number the rows of a fast read and drop the suspect rows that the per-line check refuses."""
    bad = [(i, problem) for i in sorted(_suspect_rows(frame, lines, text_fields))
           if (problem := _line_problem(lines[i], text_fields))]
    frame = frame.with_columns(pl.Series(LINE_COLUMN, numbers, dtype=pl.Int64))
    if bad:
        frame = frame.filter(~pl.int_range(pl.len()).is_in(pl.Series([i for i, _ in bad]).implode()))
    return frame, [(numbers[i], problem) for i, problem in bad]


def _read_flat(path: Path) -> pl.DataFrame | None:
    """The fastest path, for a JSON Lines file of flat objects of strings and nulls: polars infers the
    schema from one line per distinct row shape (jsonl_scan) instead of from every row, and nothing is
    left for the per-line checks (no blank line, no surrogate escape, no text that was another type).
    The file is scanned mapped and polars reads it from the open file (it maps it too): no copy of
    the file in memory. None for any other file (a BOM, too, goes the way it went), and whenever
    polars' parse does not give one row per line."""
    from jinstruct.jsonl_scan import flat_string_schema  # compiled code: loaded only for JSON input

    with open(path, "rb") as handle:
        # not closed by hand: when numba compiles the scan (a cold cache: a fresh install, a first run)
        # it holds the argument's buffer until the garbage collector runs, and mmap.close() would then
        # raise BufferError; the map is unmapped when the object is collected
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        end = len(data)
        while end and data[end - 1] in _WHITESPACE:
            end -= 1
        shape = flat_string_schema(data, end) if end else None
        del data
        if shape is None:
            return None
        shapes, lines = shape
        try:
            schema = pl.read_ndjson(io.BytesIO(shapes), infer_schema_length=None).schema
            # the open file, not its name: polars expands a name holding * ? [ as a glob
            frame = pl.read_ndjson(handle, schema=schema)
        except pl.exceptions.PolarsError:
            return None
    if frame.height != lines:
        return None
    return frame.with_columns(pl.Series(LINE_COLUMN, range(1, lines + 1), dtype=pl.Int64))


def _read_whole(data: bytes, text_fields: tuple[str, ...]) -> tuple[pl.DataFrame, list[tuple[int, str]]] | None:
    """The fast path: polars parses the whole file at once. None when the careful path is needed
    (polars refuses a line, blank lines shift the numbering, a text field is not text)."""
    end = len(data)  # the end of the last line, without copying the data as rstrip() would
    while end and data[end - 1] in _WHITESPACE:
        end -= 1
    if _BLANK_LINE.search(data, 0, end) or _LEADING_BLANK.match(data, 0, end):
        return None
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != data.count(b"\n", 0, end) + 1 or not _text_ok(frame, text_fields):
        return None
    numbers = range(1, frame.height + 1)
    suspects = _suspect_rows(frame, [], text_fields)
    surrogates = _SURROGATE_ESCAPE.search(data)
    if not suspects and not surrogates:
        return frame.with_columns(pl.Series(LINE_COLUMN, numbers, dtype=pl.Int64)), []
    if surrogates:
        return _drop_suspects(frame, list(numbers), data[:end].split(b"\n"), text_fields)
    # only text fields that may have been another type: check those lines alone, cut out of the
    # data by the newline positions (splitting 100k lines and scanning each for surrogate
    # escapes that the whole-data scan already ruled out took 2 s of a 5 s read)
    starts = np.flatnonzero(np.frombuffer(data, dtype=np.uint8, count=end) == 10) + 1
    starts = np.concatenate([[0], starts, [end + 1]])
    bad = [(i, problem) for i in sorted(suspects)
           if (problem := _line_problem(data[starts[i]:starts[i + 1] - 1], text_fields))]
    frame = frame.with_columns(pl.Series(LINE_COLUMN, numbers, dtype=pl.Int64))
    if bad:
        frame = frame.filter(~pl.int_range(pl.len()).is_in(pl.Series([i for i, _ in bad]).implode()))
    return frame, [(i + 1, problem) for i, problem in bad]


def _read_lines(numbers: list[int], lines: list[bytes], text_fields: tuple[str, ...],
                where: str) -> tuple[list[pl.DataFrame], list[tuple[int, str]]]:
    """Parse lines fast with polars; lines it cannot take, or that look suspect, are checked one by one."""
    try:
        frame = _ndjson(lines)
    except pl.exceptions.PolarsError:
        frame = None
    if frame is not None and frame.height == len(lines) and _text_ok(frame, text_fields):
        frame, bad = _drop_suspects(frame, numbers, lines, text_fields)
        return [frame], bad
    if len(lines) > _SMALLEST_CHUNK:  # narrow down: a bad line then costs the slow path only in its own chunk
        frames: list[pl.DataFrame] = []
        broken: list[tuple[int, str]] = []
        size = -(-len(lines) // _CHUNK_PARTS)
        for start in range(0, len(lines), size):
            more_frames, more_broken = _read_lines(numbers[start:start + size], lines[start:start + size],
                                                   text_fields, where)
            frames += more_frames
            broken += more_broken
        return frames, broken
    good_numbers, good_lines, broken = [], [], []
    for number, raw in zip(numbers, lines):
        problem = _line_problem(raw, text_fields)
        if problem:
            broken.append((number, problem))
        else:
            good_numbers.append(number)
            good_lines.append(raw)
    if not good_lines:
        return [], broken
    try:
        frame = _ndjson(good_lines)
    except pl.exceptions.PolarsError as exc:  # each line is valid JSON, yet the columns do not fit together
        raise InputError(f"{where}: the records' columns have conflicting types "
                         f"({str(exc).splitlines()[0]})") from None
    return [frame.with_columns(pl.Series(LINE_COLUMN, good_numbers, dtype=pl.Int64))], broken


def _json_array_lines(data: bytes, where: str) -> list[bytes] | None:
    """A ``.json`` file holding one array (or one object): one JSON line per record. None for JSON Lines."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        if data.lstrip()[:1] == b"[":
            raise InputError(f"{where}: starts like a JSON array but is not valid JSON; write one JSON "
                             "object per line (JSON Lines) to get one reject per broken line") from None
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InputError(f"{where}: holds {_json_type(value)}, expected records (JSON objects)")
    # ensure_ascii keeps a lone surrogate as its escape, so the per-line check rejects just that item
    return [json.dumps(item, ensure_ascii=True).encode() for item in value]


def _read_jsonl(path: Path, stage: str, text_fields: Iterable[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    if path.suffix != ".json" and path.stat().st_size >= FLAT_SCAN_FROM_BYTES:  # a .json may be one array
        flat = _read_flat(path)
        if flat is not None:
            return flat, parse_error_frame([])
    data = path.read_bytes()
    data = data.removeprefix(_BOM)
    if not data or data.isspace():  # bytes.strip() would copy the whole file
        raise InputError(f"{path}: holds only whitespace (no records)")
    items = _json_array_lines(data, str(path)) if path.suffix == ".json" else None
    if items is not None:
        if not items:
            raise InputError(f"{path}: an empty JSON array (no records)")
        where, numbers, lines = f"{path.name} item ", list(range(1, len(items) + 1)), items
    else:
        where = f"{path.name}:"
        fast = _read_whole(data, tuple(text_fields))
        if fast is not None:
            rejects = [_broken(f"{where}{number}", stage, "parse_error", f"{where}{number}: {problem}")
                       for number, problem in fast[1]]
            return fast[0], parse_error_frame(rejects)
        lines = data.split(b"\n")
        del data
        numbers = [number for number, raw in enumerate(lines, start=1) if raw.strip()]
        if len(numbers) < len(lines):
            lines = [lines[number - 1] for number in numbers]
    frames, broken = _read_lines(numbers, lines, tuple(text_fields), str(path))
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    rejects = [_broken(f"{where}{number}", stage, "parse_error", f"{where}{number}: {problem}")
               for number, problem in sorted(broken)]
    return frame, parse_error_frame(rejects)


def _broken(where: str, stage: str, reason: str, detail: str) -> dict:
    return {"id": f"parse:{where}", "source": None, "task": None, "instruction": None, "input": None,
            "output": None, "license": None, "stage": stage, "reason": reason, "detail": detail}


def read_table(path: str | os.PathLike, stage: str = "read",
               text_fields: Iterable[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read any JSONL, JSON or Parquet file: (rows, parse-error rejects).

    JSON rows carry their 1-based line (or array item) number in ``LINE_COLUMN``
    so that callers can build ids and messages. A line that is not a JSON
    object, not UTF-8, holds a lone surrogate, or holds a non-string in one of
    ``text_fields`` becomes a ``parse_error`` reject naming file and line. An
    unreadable or record-less file raises InputError.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a JSONL, JSON or Parquet file")
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (no records)")
    if path.suffix in JSON_SUFFIXES:
        return _read_jsonl(path, stage, text_fields)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for corrupt files
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__}); "
                         "JSON files need a .jsonl, .ndjson or .json name") from None
    if LINE_COLUMN in frame.columns:
        raise InputError(f"{path}: has a column named {LINE_COLUMN}, which jinstruct reserves")
    return frame, parse_error_frame([])


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
