"""Extracting tar and zip archives without trusting them.

An archive from the internet may try to write outside the folder it is
extracted into (``../evil``, ``/etc/passwd``), plant a link pointing outside
it, or expand to far more bytes than it weighs (a zip bomb). Every member name
is checked before anything is written; members are copied by hand, never with
``extractall``, and the bytes written are counted against a cap, since the
sizes an archive declares can lie.
"""

from __future__ import annotations

import fnmatch
import posixpath
import stat
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from jinstruct.records import InputError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    is_file: bool
    is_dir: bool
    link_target: str | None = None  # symlink or hardlink target, as stored
    hard_link: bool = False
    handle: object = None  # the library's own member object, to open it without a name lookup


@dataclass(frozen=True)
class Extracted:
    files: int
    bytes: int


def _unsafe_name(name: str) -> str | None:
    """Why a member name could escape the folder, or None when it is safe."""
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "a '..' component"
    return None


def _link_leaves(name: str, target: str, hard: bool) -> bool:
    """Does a link stored at ``name`` point outside the extraction folder?"""
    if _unsafe_name(target):
        return True
    # symlink targets are relative to the link's folder, hardlink targets to the archive root
    base = () if hard else PurePosixPath(name).parent.parts
    depth = len(base)
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return True
    return False


def _tar_members(archive: tarfile.TarFile) -> Iterator[Member]:
    for info in archive.getmembers():
        target = info.linkname if (info.issym() or info.islnk()) else None
        yield Member(info.name, info.size, info.isfile(), info.isdir(), target, info.islnk(), info)


def _zip_members(archive: zipfile.ZipFile) -> Iterator[Member]:
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):  # zip stores a symlink as a file whose content is the target
            yield Member(info.filename, info.file_size, False, False, archive.read(info).decode("utf-8", "replace"))
        else:
            yield Member(info.filename, info.file_size, not info.is_dir(), info.is_dir(), handle=info)


def _check_members(members: list[Member], label: str, pattern: str, max_bytes: int) -> list[Member]:
    """Refuse the whole archive on any unsafe member; return the members to extract."""
    for member in members:
        why = _unsafe_name(member.name)
        if why:
            raise InputError(f"{label}: archive member {member.name!r} is {why}; refusing to extract the archive")
        if member.link_target is not None and _link_leaves(member.name, member.link_target, member.hard_link):
            raise InputError(f"{label}: archive member {member.name!r} links outside the folder "
                             f"(to {member.link_target!r}); refusing to extract the archive")
    wanted = [member for member in members if not member.is_dir and fnmatch.fnmatchcase(member.name, pattern)]
    for member in wanted:
        if not member.is_file:
            raise InputError(f"{label}: archive member {member.name!r} is a link or special file, "
                             "not data; narrow the 'members' glob")
    # x.jsonl as a file and as the folder of x.jsonl/y.jsonl (or the same name twice) cannot both be extracted
    files = [posixpath.normpath(member.name) for member in members if member.is_file]
    folders = {str(parent) for name in files for parent in PurePosixPath(name).parents} | {
        posixpath.normpath(member.name) for member in members if member.is_dir}
    clash = next((name for name in files if name in folders), None) or next(
        (name for name, count in Counter(files).items() if count > 1), None)
    if clash:
        raise InputError(f"{label}: archive member {clash!r} is both a file and a folder (or appears twice); "
                         "refusing to extract the archive")
    declared = sum(member.size for member in wanted)
    if declared > max_bytes:
        raise InputError(f"{label}: the members matching {pattern!r} declare {declared:,} bytes, "
                         f"over fetch.max_archive_bytes={max_bytes:,}")
    if not wanted:
        raise InputError(f"{label}: no archive member matches {pattern!r}")
    return wanted


def _copy_capped(source: IO[bytes], target: Path, written: int, max_bytes: int, label: str) -> int:
    with open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise InputError(f"{label}: extraction passed fetch.max_archive_bytes={max_bytes:,} "
                                 "(the archive understates its sizes)")
            out.write(chunk)
    return written


def extract_members(archive_path: Path, destination: Path, pattern: str, max_bytes: int, label: str) -> Extracted:
    """Extract the members matching ``pattern`` under ``destination``, keeping their paths.

    ``label`` names the source in error messages. On error, files already
    written stay in ``destination``; the caller extracts into a staging folder
    it throws away.
    """
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    written = 0
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as archive:
            wanted = _check_members(list(_zip_members(archive)), label, pattern, max_bytes)
            for member in wanted:
                target = _target(root, member.name, label)
                with archive.open(member.handle) as source:
                    written = _copy_capped(source, target, written, max_bytes, label)
        return Extracted(len(wanted), written)
    try:
        archive = tarfile.open(archive_path, mode="r:*")  # noqa: SIM115  (closed by the with below)
    except tarfile.TarError as exc:
        raise InputError(f"{label}: {archive_path.name} is neither a zip nor a readable tar archive ({exc})") from None
    with archive:
        wanted = _check_members(list(_tar_members(archive)), label, pattern, max_bytes)
        for member in wanted:
            target = _target(root, member.name, label)
            source = archive.extractfile(member.handle)
            if source is None:
                raise InputError(f"{label}: archive member {member.name!r} has no content")
            with source:
                written = _copy_capped(source, target, written, max_bytes, label)
    return Extracted(len(wanted), written)


def _target(root: Path, name: str, label: str) -> Path:
    """The output path of a member, checked once more after resolving."""
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise InputError(f"{label}: archive member {name!r} resolves outside the folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
