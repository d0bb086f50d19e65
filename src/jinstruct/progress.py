"""Progress bars and log set-up shared by stages and the CLI.

Bars are drawn only on a terminal (tqdm's ``disable=None``), so DVC logs and CI
output stay quiet; every stage still prints its one summary line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "rec") -> Iterator[T]:
    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, disable=None, leave=False, dynamic_ncols=True))


def progress_bar(desc: str, total: int | None = None, unit: str = "rec") -> tqdm:
    return tqdm(desc=desc, total=total, unit=unit, disable=None, leave=False, dynamic_ncols=True)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                        format="%(message)s", force=True)
    # the HTTP clients log every request at INFO: noise around a command's own lines unless asked for
    for name in ("httpx", "httpx2", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
