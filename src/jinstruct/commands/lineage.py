"""``jinstruct lineage PATH``: trace a metric, adapter, card or manifest back to its sources, verifying each link."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jinstruct.errors import EXIT_CHECK_FAILED
from jinstruct.release.lineage import format_chain, trace


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path,
                        help="metrics file, adapter folder, dataset card, manifest / processed folder, "
                             "or published folder")
    parser.add_argument("--root", type=Path, help="project root (default: the nearest folder with dvc.yaml)")
    parser.add_argument("--json", action="store_true", help="print the chain as JSON")
    parser.add_argument("--allow-unchecked", action="store_true",
                        help="exit 0 when no link is broken even if some could not be checked (files not on disk)")


def run(args: argparse.Namespace) -> int:
    chain = trace(args.path, args.root)
    print(json.dumps(chain.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) if args.json
          else format_chain(chain))
    if chain.first_broken or (chain.unchecked and not args.allow_unchecked):
        return EXIT_CHECK_FAILED
    return 0
