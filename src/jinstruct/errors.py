"""Errors that end a command with one line and a documented exit code (README "When things go wrong")."""

from __future__ import annotations

import errno

from jinstruct.records import InputError

__all__ = ["EXIT_BUG", "EXIT_CHECK_FAILED", "EXIT_FILESYSTEM", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_REMOTE", "InputError", "RemoteError", "describe_error"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1     # the command ran, and what it checks does not hold (a lineage link broken or unchecked)
EXIT_INPUT = 2            # bad input or arguments the user can fix (argparse's usage errors are 2 as well)
EXIT_FILESYSTEM = 3       # reading or writing a file failed: read-only file system, disk full, no permission
EXIT_REMOTE = 4           # a remote endpoint (the Hub, a download) could not be reached or refused the request
EXIT_BUG = 70             # an unexpected error inside jinstruct (a bug): rerun with --debug for the traceback
EXIT_INTERRUPTED = 130


class RemoteError(Exception):
    """A remote endpoint could not be reached or refused the request."""


_OS_ERRORS = {errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on the device",
              errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
              errno.EPERM: "operation not permitted", errno.EISDIR: "is a folder",
              errno.ENOTDIR: "a part of the path is a file, not a folder", errno.ENOENT: "no such file or folder"}


def describe_error(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for an error that ends a command."""
    if isinstance(exc, InputError):
        return EXIT_INPUT, _one_line(str(exc))
    if isinstance(exc, RemoteError):
        return EXIT_REMOTE, _one_line(str(exc))
    if isinstance(exc, OSError) and exc.errno is not None:
        what = _OS_ERRORS.get(exc.errno, exc.strerror or type(exc).__name__)
        where = exc.filename if exc.filename is not None else "a file"
        return EXIT_FILESYSTEM, f"cannot write or read {where}: {what}"
    return EXIT_BUG, (f"unexpected {type(exc).__name__}: {_one_line(str(exc))[:300]} "
                      "(a bug in jinstruct; rerun with --debug for the traceback)")


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"
