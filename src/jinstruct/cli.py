"""The ``jinstruct`` command line.

Each subcommand lives in ``jinstruct.commands.<name>`` and exposes
``configure(parser)`` and ``run(args) -> int``. Modules are imported only when
their command runs, so ``jinstruct --help`` stays fast (no torch import).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jinstruct.errors import EXIT_INTERRUPTED, describe_error
from jinstruct.progress import setup_logging

COMMANDS = {
    "normalize": "normalise the text of any JSONL/Parquet file (raw text kept)",
    "dedup": "remove exact and near-duplicate records from any JSONL/Parquet file",
    "filter": "apply language-ID and quality filters to any JSONL/Parquet file",
    "stats": "print counts, lengths and the dataset hash of a file or dataset folder",
    "eval": "score a model (optionally with a LoRA adapter) on JGLUE-style tasks",
    "publish": "publish a dataset version to the Hugging Face Hub (or --dry-run DIR)",
    "lineage": "trace a metric, adapter, card or manifest back to its sources",
    "diff": "compare two dataset versions",
    "report": "write the HTML report of the current build",
    "explain": "the whole story of one record: source, convert, normalize, dedup, filter, split",
}


def _command_module(name: str):
    return importlib.import_module(f"jinstruct.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jinstruct", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name == only:
            _command_module(name).configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if arg in COMMANDS), None)
    args = build_parser(only=command).parse_args(argv)
    setup_logging(args.verbose)
    try:
        return _command_module(args.command).run(args) or 0
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        code, message = describe_error(exc)
        print(f"jinstruct {args.command}: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
