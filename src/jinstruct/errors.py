"""Errors that end a command with one line and a documented exit code (README "When things go wrong")."""

from __future__ import annotations

from jinstruct.records import InputError

__all__ = ["EXIT_BUG", "EXIT_CHECK_FAILED", "EXIT_FILESYSTEM", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_REMOTE", "InputError", "RemoteError"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1     # the command ran, and what it checks does not hold (a lineage link broken or unchecked)
EXIT_INPUT = 2            # bad input or arguments the user can fix (argparse's usage errors are 2 as well)
EXIT_FILESYSTEM = 3       # reading or writing a file failed: read-only file system, disk full, no permission
EXIT_REMOTE = 4           # a remote endpoint (the Hub, a download) could not be reached or refused the request
EXIT_BUG = 70             # an unexpected error inside jinstruct (a bug): rerun with --debug for the traceback
EXIT_INTERRUPTED = 130


class RemoteError(Exception):
    """A remote endpoint could not be reached or refused the request."""
