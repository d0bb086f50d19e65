"""``jinstruct diff A [B]``: compare two dataset versions (manifests, processed folders or git revisions)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jinstruct.release.diff import PROCESSED, diff_versions, format_diff, load_version


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="manifest.json, processed folder, or git revision (e.g. v0.1.0, HEAD~1)")
    parser.add_argument("b", nargs="?", default=PROCESSED, help=f"the same kinds (default: {PROCESSED})")
    parser.add_argument("--root", type=Path, default=Path("."), help="project root for git revisions (default: .)")
    parser.add_argument("--examples", type=int, default=3, help="example records of each kind (default 3)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def run(args: argparse.Namespace) -> int:
    result = diff_versions(load_version(args.a, args.root), load_version(args.b, args.root), args.examples)
    print(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) if args.json else format_diff(result))
    return 0
