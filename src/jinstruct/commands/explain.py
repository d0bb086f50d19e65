"""``jinstruct explain ID``: the whole story of one record in a built project."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jinstruct.explain import explain_record, search_records
from jinstruct.explain.render import render_search, render_story
from jinstruct.records import InputError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", help="record id, e.g. dolly_ja:123 or tanaka:42:en-ja")
    parser.add_argument("--search", metavar="TEXT", help="list the ids whose instruction, input or output holds TEXT")
    parser.add_argument("--limit", type=int, default=20, help="at most this many --search results (default 20)")
    parser.add_argument("--verify", action="store_true",
                        help="re-read the raw files and confirm the record's raw fields come from those bytes")
    parser.add_argument("--json", action="store_true", help="print JSON (docs/explain.md, schema.json)")
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder (default: here)")


def run(args: argparse.Namespace) -> int:
    if (args.id is None) == (args.search is None):
        raise InputError("give one record id, or --search TEXT")
    if args.search is not None:
        rows = search_records(args.root, args.search, args.limit)
        print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_search(rows, args.search))
        return 0
    story = explain_record(args.root, args.id, verify=args.verify)
    print(json.dumps(story, ensure_ascii=False, indent=2) if args.json else render_story(story))
    return 1 if story["verify"] is not None and not story["verify"]["ok"] else 0
