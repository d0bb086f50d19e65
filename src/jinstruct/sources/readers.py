"""Reading fetched source files into frames, one upstream record per row.

What counts as an upstream record is defined here once, for both fetch (the
record count in provenance.json) and convert (records in): a non-blank line of
JSON Lines, a line of a parallel-text file, a question of a SQuAD document, an
element of a JSON array, a row of Parquet/CSV.

Reading never stops on one bad record: a line that is not JSON, not UTF-8, or
holds a field of the wrong type is reported with its file and line and the rest
is read. A file that cannot be read at all raises InputError naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import InputError, lone_surrogate

# Field kinds an adapter can ask for; the checkers return (value, problem).
_TEXT, _INT, _BOOL, _TEXT_OBJECTS = "text", "int", "bool", "list of objects"
FIELD_DTYPES = {_TEXT: pl.String, _INT: pl.Int64, _BOOL: pl.Boolean}

ERROR_SCHEMA = {"file": pl.String, "line": pl.Int64, "message": pl.String}


@dataclass
class Read:
    """Rows (with ``__file__`` and ``__line__``), unparseable records, upstream count."""

    rows: pl.DataFrame
    errors: pl.DataFrame  # file, line, message
    upstream_records: int


def _check(kind: str, value):
    if value is None:
        return None, None
    if kind == _TEXT:
        if isinstance(value, str):
            return value, None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value), None  # numeric ids are fine as text
    elif kind == _INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None
    elif kind == _BOOL:
        if isinstance(value, bool):
            return value, None
    elif kind == _TEXT_OBJECTS:  # noqa: SIM102  (one branch per kind, as above)
        if isinstance(value, list) and all(
                isinstance(item, dict) and all(isinstance(v, str) for v in item.values()) for item in value):
            return value, None
    return None, f"expected {kind}, got {type(value).__name__}"


def _rows_frame(rows: list[dict], fields: dict[str, str]) -> pl.DataFrame:
    schema = {name: FIELD_DTYPES[kind] for name, kind in fields.items() if kind in FIELD_DTYPES}
    schema.update({"__file__": pl.String, "__line__": pl.Int64, "__wrong__": pl.String})
    frame = pl.DataFrame([{name: row[name] for name in schema} for row in rows], schema=schema)
    # nested values: their element keys are only known from the data
    nested = [pl.Series(name, [row[name] for row in rows], strict=False)
              for name, kind in fields.items() if kind == _TEXT_OBJECTS]
    return frame.with_columns(nested).select(*fields, "__file__", "__line__", "__wrong__")


def read_jsonl(paths: Sequence[Path], base: Path, fields: dict[str, str]) -> Read:
    """JSON Lines files → rows of the requested ``fields`` (missing ones are null).

    ``fields`` maps a key to "text", "int", "bool" or "list of objects". A value
    of another type becomes null with the problem in ``__wrong__``.
    """
    rows: list[dict] = []
    errors: list[tuple[str, int, str]] = []
    for path in paths:
        where_file = path.relative_to(base).as_posix()
        data = _read_bytes(path)
        for line_number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                errors.append((where_file, line_number, f"invalid UTF-8 at byte {exc.start}"))
                continue
            except json.JSONDecodeError as exc:
                errors.append((where_file, line_number, f"not JSON: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(value, dict):
                errors.append((where_file, line_number, f"a JSON {type(value).__name__}, not an object"))
                continue
            if b"\\u" in raw and lone_surrogate(value):  # no UTF-8 file can hold it: one reject, not a crash
                errors.append((where_file, line_number, "a lone UTF-16 surrogate escape that is no character"))
                continue
            row = {"__file__": where_file, "__line__": line_number}
            wrong = []
            for name, kind in fields.items():
                row[name], problem = _check(kind, value.get(name))
                if problem:
                    wrong.append(f"{name}: {problem}")
            row["__wrong__"] = "; ".join(wrong) or None
            rows.append(row)
    return Read(_rows_frame(rows, fields), pl.DataFrame(errors, schema=ERROR_SCHEMA, orient="row"),
                len(rows) + len(errors))


def files_under(folder: Path) -> list[Path]:
    """Every file below ``folder``, in path order (os.walk: pathlib is slow on 15k files)."""
    found = [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]
    return [Path(name) for name in sorted(found)]


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not data.strip():
        raise InputError(f"{path}: the file is empty (no records)")
    return data


def read_lines(path: Path, base: Path) -> tuple[pl.Series, pl.DataFrame]:
    """A plain-text file as one string per line (null where a line is not UTF-8)."""
    data = _read_bytes(path)
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()  # the newline that ends the last line starts no record
    try:
        return pl.Series("line", data.decode("utf-8").split("\n")[:len(raw_lines)]), _no_errors()
    except UnicodeDecodeError:
        pass
    lines, errors = [], []
    where_file = path.relative_to(base).as_posix()
    for line_number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            lines.append(None)
            errors.append((where_file, line_number, f"invalid UTF-8 at byte {exc.start}"))
    return pl.Series("line", lines, dtype=pl.String), pl.DataFrame(errors, schema=ERROR_SCHEMA, orient="row")


def read_json_document(path: Path):
    """A whole-file JSON document; a broken one stops with the file named."""
    data = _read_bytes(path)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not a JSON document ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def squad_questions(document, path: Path) -> pl.DataFrame:
    """The questions of a SQuAD-style document, one row each, with their paragraph."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise InputError(f"{path}: not a SQuAD document (no top-level 'data' list)")
    frame = pl.DataFrame({"data": document["data"]}, strict=False)
    try:
        return (
            frame.unnest("data")
            .with_row_index("article")
            .explode("paragraphs").with_columns(paragraph=pl.int_range(pl.len()).over("article"))
            .unnest("paragraphs")
            .explode("qas")
            .unnest("qas")
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: not a SQuAD document ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _no_errors() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)


def read_table_files(paths: Sequence[Path], fmt: str, via_datasets: bool = False) -> pl.DataFrame:
    """Parquet, CSV or JSON(-Lines) files as one frame (Hub files are loaded with ``datasets``)."""
    if via_datasets:
        return _load_with_datasets(paths, fmt)
    try:
        if fmt == "parquet":
            return pl.read_parquet(list(paths))
        if fmt == "csv":
            return pl.concat([pl.read_csv(path, infer_schema=False) for path in paths], how="diagonal_relaxed")
        if fmt == "json":
            return pl.concat([pl.DataFrame(read_json_document(path), strict=False) for path in paths],
                             how="diagonal_relaxed")
    except (pl.exceptions.PolarsError, TypeError, ValueError, OSError) as exc:
        raise InputError(f"{paths[0]}: cannot read as {fmt} ({type(exc).__name__})") from None
    raise InputError(f"{paths[0]}: format {fmt!r} is not a table format")


def _load_with_datasets(paths: Sequence[Path], fmt: str) -> pl.DataFrame:
    """Load Hub data files with ``datasets``' own builders, as the Hub would serve them."""
    import tempfile

    import datasets

    builder = {"jsonl": "json", "json": "json", "parquet": "parquet", "csv": "csv"}.get(fmt)
    if builder is None:
        raise InputError(f"{paths[0]}: format {fmt!r} cannot be loaded with datasets")
    with tempfile.TemporaryDirectory(prefix="jinstruct-datasets-") as cache_dir:
        try:
            dataset = datasets.load_dataset(builder, data_files=[str(path) for path in paths], split="train",
                                            cache_dir=cache_dir)
        except Exception as exc:  # datasets wraps parser errors in several types
            raise InputError(f"{paths[0]}: datasets cannot load it as {fmt} ({type(exc).__name__})") from None
        return pl.from_arrow(dataset.data.table)


def count_records(fmt: str, paths: Sequence[Path]) -> int | None:
    """Upstream records in fetched files (None when they cannot be parsed)."""
    try:
        if fmt == "jsonl":
            return sum(1 for path in paths for line in path.read_bytes().split(b"\n") if line.strip())
        if fmt == "parallel_text":
            data = paths[0].read_bytes()
            return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        if fmt == "squad":
            return sum(squad_questions(read_json_document(path), path).height for path in paths)
        if fmt == "json":
            return sum(len(read_json_document(path)) for path in paths)
        if fmt == "parquet":
            return pl.scan_parquet(list(paths)).select(pl.len()).collect().item()
        if fmt == "csv":
            return sum(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item() for path in paths)
    except (InputError, pl.exceptions.PolarsError, OSError, TypeError):
        return None
    return None
