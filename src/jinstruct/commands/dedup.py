"""``jinstruct dedup``: exact and near-duplicate removal on any JSONL/Parquet file.

The key is built from ``--text-field`` columns when given, else from
``dedup.fields`` in params.yaml, else instruction + input + output. Files
without ``task`` are one task; without ``group``, each record is its own group.
``--clusters`` and ``--index`` write the cluster table and the dedup index
(pass the index to a later run with ``--set previous_index=PATH``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jinstruct.commands._datastage import configure as configure_datastage
from jinstruct.commands._datastage import run_datastage


def configure(parser: argparse.ArgumentParser) -> None:
    configure_datastage(parser)
    parser.add_argument("--clusters", type=Path, help="write the duplicate clusters here (.parquet or .jsonl)")
    parser.add_argument("--index", type=Path, help="write the dedup index here (.parquet), for --set previous_index=")


def run(args: argparse.Namespace) -> int:
    from jinstruct.pipeline.dedup import ARTIFACTS, STAGE, transform  # the stage's libraries load only when it runs

    return run_datastage(args, STAGE, transform, ARTIFACTS)
