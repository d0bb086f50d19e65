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
from jinstruct.dedup import dedup_records
from jinstruct.dedup.index import write_index
from jinstruct.records import write_records


def configure(parser: argparse.ArgumentParser) -> None:
    configure_datastage(parser)
    parser.add_argument("--clusters", type=Path, help="write the duplicate clusters here (.parquet or .jsonl)")
    parser.add_argument("--index", type=Path, help="write the dedup index here (.parquet), for --set previous_index=")


def run(args: argparse.Namespace) -> int:
    explicit_fields = args.text_fields
    outcomes = []

    def factory(params: dict, _default_fields: list[str]):
        def transform(frame):
            outcomes.append(dedup_records(frame, params, explicit_fields))
            return outcomes[-1].result
        return transform

    code = run_datastage(args, "dedup", factory, {"--clusters": args.clusters, "--index": args.index})  # checks the accounting, writes output, rejects, stats
    if args.clusters:
        write_records(outcomes[-1].clusters, args.clusters)
    if args.index:
        write_index(outcomes[-1].index, outcomes[-1].identity, args.index)
    return code
