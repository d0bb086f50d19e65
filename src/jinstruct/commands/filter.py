"""``jinstruct filter``: the filter stage on any JSONL or Parquet file.

Decontamination uses ``--eval-dir`` (default: ``data/eval`` when it exists)
with the ``eval_sets`` of the params file, when there is one; otherwise every
sub-folder of the eval folder is a set named after its task. Turn it off with
``--set decontamination.enabled=false``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jinstruct.commands import _datastage
from jinstruct.params import PARAMS_FILE, load_params

DEFAULT_EVAL_DIR = Path("data/eval")


def configure(parser: argparse.ArgumentParser) -> None:
    _datastage.configure(parser)
    parser.add_argument("--eval-dir", type=Path, default=None,
                        help="fetched eval sets to decontaminate against (default: data/eval when present)")


def _eval_sets(params_path: Path | None) -> dict | None:
    path = params_path or PARAMS_FILE
    if not path.is_file():
        return None
    return load_params(None, path).get("eval_sets")


def run(args: argparse.Namespace) -> int:
    from jinstruct.filters import filter_records

    eval_dir = args.eval_dir or (DEFAULT_EVAL_DIR if DEFAULT_EVAL_DIR.is_dir() else None)
    eval_sets = _eval_sets(args.params) if eval_dir is not None else None

    def factory(params: dict, text_fields: list[str]):
        return lambda frame: filter_records(frame, params, text_fields, eval_dir, eval_sets)

    return _datastage.run_datastage(args, "filter", factory)
