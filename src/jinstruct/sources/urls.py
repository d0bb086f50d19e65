"""Source URLs made safe to look up and to write down.

A URL's path decides where in a mirror folder its file is looked for, so a
``..`` segment (also percent-encoded) could reach any file on the machine: such
URLs are refused before any lookup. Credentials in a URL (``user:token@host``)
are used for the download only; every URL that is logged or written
(provenance, manifest, card, lineage) has them stripped.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

from jinstruct.records import InputError


def check_url_path(url: str) -> None:
    """Refuse a URL whose path climbs (``..``) or holds a backslash or NUL, even percent-encoded."""
    path = unquote(urlsplit(url).path)
    if "\\" in path or "\x00" in path:
        raise InputError(f"{redact(url)}: the URL path holds a backslash or NUL byte")
    if any(segment in ("..", ".") for segment in path.split("/")):
        raise InputError(f"{redact(url)}: the URL path holds a '.' or '..' segment; give the plain path")


def mirror_relative(url: str) -> PurePosixPath:
    """``<host>[:port]/<path>`` of a URL, without credentials: where a mirror keeps its file."""
    check_url_path(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = posixpath.normpath("/" + unquote(parts.path)).lstrip("/")
    return PurePosixPath(host) / path


def redact(url: str | None) -> str | None:
    """The URL without ``user:password@``."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:  # not a URL after all (a bad port or bracket): keep nothing after the '@'
        return url.split("://", 1)[0] + "://" + url.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def credentials(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def redact_urls(value: object) -> object:
    """``value`` (nested dicts/lists from params or provenance) with credentials stripped from every URL."""
    if isinstance(value, dict):
        return {key: redact_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_urls(item) for item in value]
    if isinstance(value, str) and "@" in value and "://" in value:
        return redact(value)
    return value
