"""Fetching pinned sources: mirror first, then the network; sha256-checked.

For every file of every enabled source, the mirror folders (``JINSTRUCT_MIRROR``,
then ``fetch.mirrors``) are searched at ``<mirror>/<url without scheme>``; only
when none holds it is the URL downloaded with urllib (Hub files from their
``resolve/<revision>`` URL, with the user's Hub token when there is one). Bytes
stream into a temporary file beside their final place while being hashed; a
pinned sha256 that does not match stops the whole fetch with one line naming
the source, and nothing is written.

The whole output folder is assembled in a staging folder next to it and renamed
into place at the end, so ``data/raw`` is either the previous complete set or
the new one. ``provenance.json`` records, per source, where each file came from
upstream (never which mirror served it: the output must be byte-identical
online and offline), its sha256, size and record count.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from jinstruct import __version__
from jinstruct.progress import progress_bar
from jinstruct.records import InputError, write_json
from jinstruct.sources.archive import extract_members
from jinstruct.sources.readers import count_records, files_under
from jinstruct.sources.spec import Location, SourceSpec
from jinstruct.sources.urls import credentials, mirror_relative, redact

log = logging.getLogger("jinstruct")

MIRROR_ENV = "JINSTRUCT_MIRROR"
MIRROR_HINT = f"to build offline, point {MIRROR_ENV} at a mirror folder, e.g. {MIRROR_ENV}=../shared/mirror"
_CHUNK = 1 << 20


def mirror_dirs(configured: list | None = None) -> list[Path]:
    """Mirror folders in search order: the environment variable, then params."""
    from_env = [part for part in os.environ.get(MIRROR_ENV, "").split(os.pathsep) if part]
    return [Path(entry).expanduser() for entry in [*from_env, *(configured or [])]]


def mirror_candidate(mirror: Path, url: str) -> Path:
    """Where ``mirror`` keeps ``url``: never outside the mirror folder (``..`` is refused first)."""
    candidate = mirror / mirror_relative(url)
    if not candidate.resolve().is_relative_to(mirror.resolve()):  # a symlink inside the mirror pointing out
        raise InputError(f"{redact(url)}: its mirror path {candidate} leads outside the mirror {mirror}")
    return candidate


def _stream(source, target: Path, desc: str, total: int | None) -> tuple[str, int]:
    """Copy a binary stream into ``target`` while hashing it; (sha256, bytes)."""
    digest, size = hashlib.sha256(), 0
    bar = progress_bar(desc, total=total, unit="B")
    bar.unit_scale = True
    with bar, open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            bar.update(len(chunk))
    return digest.hexdigest(), size


def _download_url(url: str, target: Path, desc: str, timeout: float, token: str | None = None) -> tuple[str, int]:
    request = urllib.request.Request(redact(url), headers={"User-Agent": f"jinstruct/{__version__}"})
    if credentials(url):  # user:password@ in the URL: sent as basic auth, never logged or written
        user, password = credentials(url)
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {basic}")
    elif token:
        # not carried over redirects: the Hub sends file bytes from another host
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        return _stream(response, target, desc, int(length) if length and length.isdigit() else None)


def _hub_token() -> str | None:
    """The user's Hub token (HF_TOKEN or `hf auth login`), for gated datasets."""
    from huggingface_hub import get_token

    return get_token()


def _unreachable(spec: SourceSpec, location: Location, mirrors: list[Path], reason: str) -> InputError:
    searched = (", ".join(str(m) for m in mirrors) if mirrors
                else f"no mirror set ({MIRROR_ENV} unset, fetch.mirrors empty)")
    return InputError(f"source {spec.name}: cannot download {redact(location.url)} ({reason}) and no mirror holds it "
                      f"[searched: {searched}]; {MIRROR_HINT}")


def fetch_file(spec: SourceSpec, location: Location, target: Path, mirrors: list[Path],
               timeout: float) -> tuple[str, int]:
    """Bring one file to ``target`` (via a temporary file beside it); (sha256, bytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    desc = f"{spec.name}/{location.file_name}"
    try:
        if location.url is None:
            origin = location.path
            sha, size = _copy_local(spec, location, tmp, desc)
        else:
            origin, sha, size = _fetch_remote(spec, location, tmp, mirrors, timeout, desc)
        if location.sha256 and sha != location.sha256:
            raise InputError(f"source {spec.name}: sha256 mismatch for {origin}: "
                             f"expected {location.sha256}, got {sha}")
        os.replace(tmp, target)
        target.chmod(0o644)  # mkstemp made it private; source data is not
    finally:
        tmp.unlink(missing_ok=True)
    if not location.sha256:
        log.warning("[fetch] %s: %s is not pinned; its sha256 is %s (add it to params.yaml)",
                    spec.name, location.file_name, sha)
    return sha, size


def _copy_local(spec: SourceSpec, location: Location, tmp: Path, desc: str) -> tuple[str, int]:
    path = Path(location.path).expanduser()
    if not path.is_file():
        raise InputError(f"source {spec.name}: local file {location.path} does not exist")
    with open(path, "rb") as handle:
        return _stream(handle, tmp, desc, path.stat().st_size)


def _fetch_remote(spec: SourceSpec, location: Location, tmp: Path, mirrors: list[Path], timeout: float,
                  desc: str) -> tuple[str, str, int]:
    """(where the bytes came from, sha256, bytes): the first mirror holding the URL, else the network."""
    for mirror in mirrors:
        candidate = mirror_candidate(mirror, location.url)
        if candidate.is_file():
            log.info("[fetch] %s: %s from mirror %s", spec.name, location.file_name, mirror)
            with open(candidate, "rb") as handle:
                return (str(candidate), *_stream(handle, tmp, desc, candidate.stat().st_size))
    log.info("[fetch] %s: downloading %s", spec.name, redact(location.url))
    try:
        token = _hub_token() if spec.kind == "hf" else None
        return redact(location.url), *_download_url(location.url, tmp, desc, timeout, token)
    except urllib.error.HTTPError as exc:
        raise _unreachable(spec, location, mirrors, f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _unreachable(spec, location, mirrors, str(exc.reason)) from None
    except OSError as exc:  # timeouts, connection resets
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _unreachable(spec, location, mirrors, reason) from None


def _fetch_source(spec: SourceSpec, staging: Path, mirrors: list[Path], fetch_params: dict) -> dict:
    """Fetch one source into ``staging/<name>/``; its provenance entry."""
    folder = staging / spec.name
    timeout = float(fetch_params.get("timeout_seconds", 60))
    files: dict[str, dict] = {}
    data_paths: list[Path] = []
    for location in spec.locations:
        if spec.kind == "archive":
            archive = staging / ".archives" / spec.name / location.file_name
            sha, size = fetch_file(spec, location, archive, mirrors, timeout)
            extracted = extract_members(archive, folder, spec.members, int(fetch_params["max_archive_bytes"]),
                                        f"source {spec.name}")
            archive.unlink()
            data_paths = files_under(folder)
            entry = {"members": spec.members, "extracted_files": extracted.files, "extracted_bytes": extracted.bytes}
        else:
            target = folder / location.file_name
            sha, size = fetch_file(spec, location, target, mirrors, timeout)
            data_paths.append(target)
            entry = {"path": target.relative_to(staging).as_posix()}
        entry.update({"sha256": sha, "bytes": size, "pinned": location.sha256 is not None})
        entry.update({"url": redact(location.url)} if location.url else {"local_path": location.path})
        files[location.role] = entry
    provenance = {
        "kind": spec.kind,
        "format": spec.format,
        "license": spec.license,
        "revision": spec.revision,
        "records": count_records(spec.format, data_paths),
        "bytes": sum(entry["bytes"] for entry in files.values()),
        "files": files,
    }
    provenance.update({"adapter": spec.adapter} if spec.adapter else {"task": spec.task})
    if spec.kind == "archive":
        provenance["path"] = spec.name
    if spec.kind == "hf":
        provenance["repo"] = spec.repo
    return provenance


def fetch_sources(specs: list[SourceSpec], output_dir: Path, fetch_params: dict,
                  section: str = "sources") -> dict:
    """Fetch every source into ``output_dir`` (replaced as a whole); the provenance."""
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    mirrors = mirror_dirs(fetch_params.get("mirrors"))
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.staging-", dir=output_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the data folder is not
    try:
        provenance = {section: {spec.name: _fetch_source(spec, staging, mirrors, fetch_params) for spec in specs}}
        shutil.rmtree(staging / ".archives", ignore_errors=True)
        write_json(provenance, staging / "provenance.json")
        _replace_dir(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name, entry in provenance[section].items():
        log.info("[fetch] %s: %s records, %s bytes, sha256 %s", name, entry["records"], entry["bytes"],
                 ", ".join(f["sha256"][:12] for f in entry["files"].values()))
    return provenance


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; the old folder is moved aside first, then removed."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
