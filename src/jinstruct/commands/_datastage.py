"""What ``jinstruct normalize|dedup|filter`` share: run a data stage on any file.

The file may be JSONL or Parquet and need not follow the record schema:
``--text-field`` names the columns that hold text (default: instruction, input,
output). Records without ``id`` get ``<file stem>:<line or row>`` (a file's own
ids must be unique); records without ``source`` get the file stem. Every other
column passes through. Output paths are checked before anything is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from jinstruct.commands._paths import check_paths
from jinstruct.outputs import OutputSet
from jinstruct.params import PARAMS_FILE, stage_settings
from jinstruct.pipeline import RunSettings
from jinstruct.records import LINE_COLUMN, TEXT_FIELDS, InputError, check_text_columns, read_table
from jinstruct.stage import Incoming, Transform, run_stage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="JSONL or Parquet file")
    parser.add_argument("--output", required=True, type=Path, help="kept records (.jsonl or .parquet)")
    parser.add_argument("--rejects", type=Path, help="rejected records with stage, reason, detail")
    parser.add_argument("--stats", type=Path, help="write the stage stats JSON here")
    parser.add_argument("--text-field", action="append", dest="text_fields", metavar="NAME",
                        help="a column holding text (repeatable; default: instruction, input, output)")
    parser.add_argument("--params", type=Path, default=None,
                        help="params file (default: ./params.yaml when present, else built-in defaults)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a param of this stage, e.g. --set threshold=0.8")


def params_file(args: argparse.Namespace) -> Path | None:
    """The params file a command reads: --params, else ./params.yaml when present, else none (defaults)."""
    return args.params or (PARAMS_FILE if PARAMS_FILE.is_file() else None)


def _with_identity(df: pl.DataFrame, stem: str, path: Path) -> pl.DataFrame:
    """Give every row an ``id`` (kept when the file has one, which must then be unique) and a ``source``."""
    if "id" in df.columns:
        ids = df["id"].cast(pl.String)
        if ids.null_count():
            row = _position(df, ids.is_null().arg_max())
            raise InputError(f"{path}: record at {row} has no id; give every record an id or drop the id column")
        repeated = ids.is_duplicated()
        if repeated.any():
            first = ids.filter(repeated)[0]
            rows = [_position(df, i) for i in ids.eq(first).arg_true().head(2).to_list()]
            raise InputError(f"{path}: duplicate id {first!r} ({rows[0]} and {rows[1]}); ids must be unique")
        df = df.with_columns(id=ids)
    else:
        if LINE_COLUMN in df.columns:
            position = pl.col(LINE_COLUMN).cast(pl.String)
        else:
            position = pl.int_range(1, pl.len() + 1).cast(pl.String)
        df = df.with_columns(id=pl.lit(f"{stem}:") + position)
    if "source" not in df.columns:
        df = df.with_columns(source=pl.lit(stem))
    return df.drop(LINE_COLUMN, strict=False)


def _position(df: pl.DataFrame, index: int) -> str:
    return f"line {df[LINE_COLUMN][index]}" if LINE_COLUMN in df.columns else f"row {index + 1}"


def run_datastage(args: argparse.Namespace, stage: str, transform: Transform, artifacts: tuple[str, ...] = (),
                  **extra) -> int:
    """Run ``stage``'s transform on ``--input`` and publish ``--output`` (+ rejects, stats, artifacts) as one set.

    Output paths and settings are checked before anything is read. ``extra`` adds
    fields of ``RunSettings`` (the filter's eval sets).
    """
    given = {name: getattr(args, name, None) for name in artifacts}
    check_paths(args.input, {"--output": args.output, "--rejects": args.rejects,
                             **{f"--{name}": path for name, path in given.items()}},
                {"--stats": args.stats}, {"--index": (".parquet",)})
    settings = stage_settings(stage, params_file(args), args.set, required=False)
    outputs = OutputSet(args.output, args.rejects, args.stats, {name: path for name, path in given.items() if path})
    text_fields = args.text_fields

    def read() -> Incoming:
        nonlocal text_fields
        frame, parse_rejects = read_table(args.input, stage=stage, text_fields=args.text_fields or TEXT_FIELDS)
        if frame.height == 0 and parse_rejects.height == 0:
            raise InputError(f"{args.input}: no records")
        text_fields = text_fields or [f for f in TEXT_FIELDS if f in frame.columns] or list(TEXT_FIELDS)
        if frame.height:
            check_text_columns(frame, text_fields, args.input)
        else:  # every line was a parse error: an empty frame with the text columns, so the stage can still run
            frame = pl.DataFrame(schema={field: pl.String for field in text_fields})
        return Incoming(_with_identity(frame, args.input.stem, args.input), parse_rejects)

    def run_settings(_incoming: Incoming) -> RunSettings:
        return RunSettings(settings, tuple(text_fields), fields_given=bool(args.text_fields), **extra)

    run_stage(stage, transform, run_settings, read, outputs)
    return 0
