"""``jinstruct normalize``: the normalize stage on any JSONL or Parquet file."""

from __future__ import annotations

import argparse

from jinstruct.commands import _datastage


def configure(parser: argparse.ArgumentParser) -> None:
    _datastage.configure(parser)
    parser.epilog = ("Rules and PII kinds are switched with --set, e.g. --set rules.wave_dash=false "
                     "--set pii.phone=false (see docs/normalization.md).")


def run(args: argparse.Namespace) -> int:
    from jinstruct.pipeline.normalize import STAGE, transform  # the stage's libraries load only when it runs

    return _datastage.run_datastage(args, STAGE, transform)
