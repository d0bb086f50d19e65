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
from jinstruct.params import stage_settings

DEFAULT_EVAL_DIR = Path("data/eval")


def configure(parser: argparse.ArgumentParser) -> None:
    _datastage.configure(parser)
    parser.add_argument("--eval-dir", type=Path, default=None,
                        help="fetched eval sets to decontaminate against (default: data/eval when present)")


def run(args: argparse.Namespace) -> int:
    from jinstruct.pipeline.filter import STAGE, transform  # the stage's libraries load only when it runs

    eval_dir = args.eval_dir or (DEFAULT_EVAL_DIR if DEFAULT_EVAL_DIR.is_dir() else None)
    params_file = _datastage.params_file(args)
    eval_sets = None
    if eval_dir is not None and params_file is not None:
        eval_sets = stage_settings("eval_sets", params_file, required=False).as_params() or None
    return _datastage.run_datastage(args, STAGE, transform, eval_dir=eval_dir, eval_sets=eval_sets)
