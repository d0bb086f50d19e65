"""``jinstruct report``: write the HTML report of the build in the current folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from jinstruct.params import PARAMS_FILE, apply_overrides, load_params


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=None,
                        help="the HTML file to write (default: reports/index.html in the build folder)")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the build folder holding metrics/, data/, models/ (default: here)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a report param, e.g. --set sample_records=2000")


def run(args: argparse.Namespace) -> int:
    from jinstruct.report import write_report

    params_file = args.root / PARAMS_FILE
    params = {}
    if params_file.is_file():  # a folder without params.yaml gets the built-in defaults
        params = load_params(path=params_file).get("report") or {}
    write_report(args.root, args.output or args.root / "reports" / "index.html", apply_overrides(params, args.set))
    return 0
