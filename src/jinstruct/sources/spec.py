"""Source declarations from params.yaml (`sources:` and `eval_sets:`), validated.

Each entry is keyed by its name and has a ``kind`` saying where its bytes come
from:

- ``url``: one file (``url`` + optional ``sha256``), or several files by role
  (``files: {role: {url, sha256}}``, e.g. the two sides of a parallel corpus);
- ``archive``: a tar or zip ``url`` whose members matching ``members`` (a glob on
  the member path) are extracted;
- ``hf``: a Hugging Face Hub dataset ``repo`` at a pinned ``revision`` (a full
  commit id) and its ``data_files``;
- ``local``: a ``path`` (or ``files: {role: {path}}``) on this machine.

Every location becomes a ``Location`` with the URL (or path) and the file name
it gets under ``data/raw/<name>/``, so fetch and convert agree on the layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from jinstruct.records import InputError
from jinstruct.sources.urls import check_url_path, redact

KINDS = ("url", "archive", "hf", "local")
FORMATS = ("jsonl", "json", "squad", "parallel_text", "parquet", "csv")
HF_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")


@dataclass(frozen=True)
class Location:
    """One file of a source: where it comes from and where it lands."""

    role: str
    url: str | None          # None for local files
    path: str | None         # local path (kind local) or Hub file path (kind hf)
    sha256: str | None
    file_name: str           # relative path under data/raw/<source>/ (archives: the archive itself)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    format: str
    license: str
    locations: tuple[Location, ...]
    adapter: str | None = None       # instruction sources
    task: str | None = None          # eval sets
    members: str | None = None       # archive member glob
    repo: str | None = None          # hf
    revision: str | None = None      # pinned commit (hf: given; url/archive: parsed from the URL)
    endpoint: str | None = None      # hf: another Hub endpoint (a private Hub or a proxy)
    options: dict = field(default_factory=dict)  # adapter options (e.g. column names)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(location.role for location in self.locations)


def revision_from_url(url: str) -> str | None:
    """The pinned commit in a GitHub/Hub URL (a 40-hex path segment), if any."""
    found = _COMMIT.findall(urlsplit(url).path)
    return found[0] if found else None


def url_file_name(url: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name
    if not name:
        raise InputError(f"{url}: the URL names no file")
    return name


def _fail(where: str, message: str) -> InputError:
    return InputError(f"params.yaml {where}: {message}")


def _sha(where: str, value) -> str | None:
    if value is None:
        return None
    value = str(value).lower()
    if not _SHA256.fullmatch(value):
        raise _fail(where, f"sha256 {value!r} is not 64 hex digits")
    return value


def _url(where: str, value) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise _fail(where, f"url {redact(value) if isinstance(value, str) else value!r} is not an http(s) URL")
    try:
        check_url_path(value)
    except InputError as exc:
        raise _fail(where, str(exc)) from None
    return value


def _role_entries(where: str, entry: dict, key: str) -> list[tuple[str, dict]]:
    """``files: {role: {...}}`` as (role, entry) pairs, else one role ``data``."""
    files = entry.get("files")
    if files is None:
        if key not in entry:
            raise _fail(where, f"needs {key!r} or 'files'")
        return [("data", {key: entry[key], "sha256": entry.get("sha256")})]
    if not isinstance(files, dict) or not files:
        raise _fail(where, f"'files' must map a role to {{{key}, sha256}}")
    pairs = []
    for role, file_entry in files.items():
        if not isinstance(file_entry, dict) or key not in file_entry:
            raise _fail(f"{where}.files.{role}", f"needs {key!r}")
        pairs.append((str(role), file_entry))
    return pairs


def _locations(where: str, kind: str, entry: dict) -> tuple[tuple[Location, ...], str | None]:
    if kind in ("url", "archive"):
        if kind == "archive" and "files" in entry:
            raise _fail(where, "an archive source has one 'url'")
        locations = []
        for role, item in _role_entries(where, entry, "url"):
            url = _url(f"{where}.{role}", item["url"])
            locations.append(Location(role if kind == "url" else "archive", url, None,
                                      _sha(f"{where}.{role}", item.get("sha256")), url_file_name(url)))
        revisions = {revision_from_url(location.url) for location in locations}
        return tuple(locations), revisions.pop() if len(revisions) == 1 else None
    if kind == "local":
        locations = []
        for role, item in _role_entries(where, entry, "path"):
            path = str(item["path"])
            locations.append(Location(role, None, path, _sha(f"{where}.{role}", item.get("sha256")),
                                      PurePosixPath(path).name))
        return tuple(locations), None
    # hf: a Hub dataset repository pinned to a commit, with the files to take from it
    repo, revision, data_files = entry.get("repo"), entry.get("revision"), entry.get("data_files")
    if not isinstance(repo, str) or repo.count("/") != 1:
        raise _fail(where, f"repo {repo!r} is not '<owner>/<dataset>'")
    if not isinstance(revision, str) or not _COMMIT.fullmatch(revision):
        raise _fail(where, f"revision {revision!r} must be a full 40-hex commit id (a branch or tag can move)")
    if isinstance(data_files, str):
        data_files = [data_files]
    if not data_files or not isinstance(data_files, list):
        raise _fail(where, "data_files must list the repository files to take")
    sha_pins = entry.get("sha256") or {}
    if not isinstance(sha_pins, dict):
        raise _fail(where, "sha256 of an hf source maps each data file to its hash")
    locations = []
    for path in data_files:
        path = str(path).lstrip("/")
        if ".." in PurePosixPath(path).parts:
            raise _fail(where, f"data file {path!r} leaves the repository")
        url = f"{(entry.get('endpoint') or HF_ENDPOINT).rstrip('/')}/datasets/{repo}/resolve/{revision}/{path}"
        locations.append(Location(path, url, path, _sha(f"{where}.sha256.{path}", sha_pins.get(path)), path))
    return tuple(locations), revision


def parse_source(name: str, entry: dict, section: str = "sources") -> SourceSpec:
    """Validate one entry; every mistake is a one-line InputError naming it."""
    where = f"{section}.{name}"
    if not isinstance(entry, dict):
        raise _fail(where, "must be a mapping")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    fmt = entry.get("format")
    if fmt not in FORMATS:
        raise _fail(where, f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if not entry.get("license"):
        raise _fail(where, "needs a license (it is copied into every record)")
    if section == "sources" and not entry.get("adapter"):
        raise _fail(where, "needs an adapter")
    if section == "eval_sets" and not entry.get("task"):
        raise _fail(where, "needs a task")
    if kind == "archive" and not entry.get("members"):
        raise _fail(where, "an archive source needs a 'members' glob")
    locations, revision = _locations(where, kind, entry)
    names = [location.file_name for location in locations]
    if len(set(names)) != len(names):
        raise _fail(where, f"two files would land at the same name: {names}")
    return SourceSpec(
        name=name, kind=kind, format=fmt, license=str(entry["license"]), locations=locations,
        adapter=entry.get("adapter"), task=entry.get("task"), members=entry.get("members"),
        repo=entry.get("repo"), revision=entry.get("revision") or revision, endpoint=entry.get("endpoint"),
        options=dict(entry.get("options") or {}),
    )


def enabled_sources(section_params: dict | None, section: str = "sources") -> list[SourceSpec]:
    """The enabled entries of a params section, in name order (stable output order).

    Building without instruction sources is a mistake; without benchmark files
    (``eval_sets``) it is a choice, so that list may be empty.
    """
    may_be_empty = section == "eval_sets"
    if not section_params:
        if may_be_empty:
            return []
        raise InputError(f"params.yaml: section {section!r} lists no sources")
    if not isinstance(section_params, dict):
        raise InputError(f"params.yaml: {section!r} must map each source name to its settings")
    specs = []
    for name in sorted(section_params):
        entry = section_params[name]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)):  # a folder name under data/raw
            raise _fail(f"{section}.{name}",
                        "a source name starts with a letter or digit, then letters, digits, '_', '.', '-'")
        if isinstance(entry, dict) and entry.get("enabled", True) is False:
            continue
        specs.append(parse_source(str(name), entry, section))
    if not specs and not may_be_empty:
        raise InputError(f"params.yaml: every entry of {section!r} is disabled; nothing to fetch")
    return specs
