"""``jinstruct publish``: push a built dataset version to the Hub (or write it with --dry-run DIR)."""

from __future__ import annotations

import argparse
from pathlib import Path

from jinstruct.release.publish import DEFAULT_SHARD_RECORDS, publish


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo-id", required=True, help="Hub dataset repository, ORG/NAME")
    parser.add_argument("--version", help="version to tag (default and only allowed value: the build's split.version)")
    parser.add_argument("--processed", type=Path, default=Path("data/processed"),
                        help="built dataset folder with manifest.json (default: data/processed)")
    parser.add_argument("--private", action="store_true", help="create the repository as private if it is new")
    parser.add_argument("--dry-run", type=Path, metavar="DIR",
                        help="write exactly the files that would be committed into the empty folder DIR; push nothing")
    parser.add_argument("--allow-unknown-license", action="store_true",
                        help="publish even when a source's licence is not recognised")
    parser.add_argument("--allow-noncommercial", action="store_true",
                        help="publish even when a source's licence forbids commercial use")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="publish even when the git tree has uncommitted changes (the card then says so)")
    parser.add_argument("--endpoint", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co)")
    parser.add_argument("--max-shard-records", type=int, default=DEFAULT_SHARD_RECORDS,
                        help=f"records per Parquet shard (default {DEFAULT_SHARD_RECORDS:,})")


def run(args: argparse.Namespace) -> int:
    result = publish(args.processed, args.repo_id, args.version, private=args.private, dry_run_dir=args.dry_run,
                     allow_unknown_license=args.allow_unknown_license, allow_noncommercial=args.allow_noncommercial,
                     endpoint=args.endpoint, max_shard_records=args.max_shard_records,
                     allow_dirty=args.allow_dirty)
    if args.dry_run is not None:
        for path in result.files:
            print(args.dry_run / path)
    else:
        print(f"published {args.repo_id} {result.tag} at commit {result.commit}")
    return 0
