"""Publishing a built dataset version to the Hugging Face Hub.

``publish`` checks the build (split files against the manifest, the dataset
hash, ``dvc status`` of the stage that wrote the folder, the licences), lays out
the exact files of the Hub repository in a staging folder — Parquet shards per
split under ``data/``, the ``README.md`` card and ``lineage.json`` — and then
either keeps them (``dry_run_dir``) or pushes them with ``huggingface_hub`` in one
commit and tags that commit with the version. An existing version tag is never
moved or overwritten.

The Hub token comes from ``HF_TOKEN`` or the user's ``hf auth login``, is read by
``huggingface_hub`` itself and never passes through this module's logs or files.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.errors import InputError, RemoteError
from jinstruct.records import file_sha256, write_json, write_parquet
from jinstruct.release import manifest as manifests
from jinstruct.release.card import render_card
from jinstruct.release.licenses import derive_licence
from jinstruct.release.project import project_root, with_commit

log = logging.getLogger("jinstruct")

DEFAULT_SHARD_RECORDS = 250_000   # ~100–150 MB of Parquet for instruction records: well under the Hub's file limits
LINEAGE_FORMAT = "jinstruct-lineage/1"
_VERSION = re.compile(r"^\d+\.\d+\.\d+([.+-][0-9A-Za-z.+-]+)?$")


@dataclass
class Staged:
    """The files of one dataset version, laid out as in the Hub repository."""

    folder: Path
    files: list[str]          # paths relative to ``folder``, sorted
    manifest: dict
    tag: str
    commit: str | None = None   # the Hub commit, once pushed


# --------------------------------------------------------------------------- checks


def check_version(version: str | None, manifest: dict) -> str:
    """The version to tag: the manifest's, which ``--version`` may state but not change."""
    built = str(manifest.get("version") or "")
    version = version or built
    if not version:
        raise InputError("the manifest has no version: pass --version X.Y.Z")
    if not _VERSION.match(version):
        raise InputError(f"--version {version!r}: expected a version like 1.2.0")
    if built and version != built:
        raise InputError(f"--version {version} but the build is version {built}: set split.version in "
                         "params.yaml and run `dvc repro split`, so that the card and the data agree")
    return version


def check_dvc_clean(processed_dir: Path) -> None:
    """Refuse unless `dvc status` of the stage that wrote ``processed_dir`` (and its upstream) is clean."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    processed_dir = processed_dir.resolve()
    root = project_root(processed_dir)
    if root is None:
        raise InputError(f"{processed_dir}: not inside a DVC project; publish only what `dvc repro` built")
    # Stage addresses are printed relative to the working directory: run from the project root.
    with contextlib.chdir(root), Repo(str(root)) as repo:
        try:
            outs = repo.find_outs_by_path(str(processed_dir))
        except DvcException:
            raise InputError(f"{processed_dir}: no DVC stage outputs this folder (see dvc.yaml)") from None
        stage = outs[0].stage.addressing
        status = repo.status(targets=[stage], with_deps=True)
    if status:
        raise InputError(f"`dvc status {stage} --with-deps` is not clean ({describe_status(status)}): "
                         f"run `dvc repro {stage}` and commit, then publish")


# Untracked files that change what a build makes; other untracked files (notes, editor backups) do not.
_BUILD_PATHS = ("src", "stages", "params.yaml", "dvc.lock", "dvc.yaml", "pyproject.toml")


def git_changes(root: Path) -> list[str] | None:
    """`git status` lines that make the tree dirty for publishing (None outside a git work tree).

    Any change to a tracked file counts; untracked files count only under the build's own paths.
    """
    import subprocess

    def status(*args: str) -> list[str] | None:
        try:
            done = subprocess.run(["git", "status", "--porcelain", *args], cwd=root, capture_output=True,
                                  text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return [line for line in done.stdout.splitlines() if line.strip()]

    tracked = status("--untracked-files=no")
    untracked = status("--untracked-files=all", "--", *_BUILD_PATHS)
    if tracked is None or untracked is None:
        return None
    return tracked + [line for line in untracked if line.startswith("??")]


def check_git_clean(processed_dir: Path, allow_dirty: bool) -> list[str]:
    """Refuse a dirty git tree unless ``allow_dirty``; the changes (empty when clean)."""
    root = project_root(processed_dir.resolve())
    changes = git_changes(root) if root is not None else None
    if changes is None:
        raise InputError(f"{processed_dir}: not inside a git work tree, so the published version could not name "
                         "the commit it was built from")
    if changes and not allow_dirty:
        shown = (", ".join(line[3:] for line in changes[:5])
                 + (f" and {len(changes) - 5} more" if len(changes) > 5 else ""))
        raise InputError(f"the git tree has uncommitted changes ({shown}): commit them, or pass --allow-dirty "
                         "(the card then says so)")
    return changes


def describe_status(status: dict) -> str:
    parts = []
    for stage, changes in sorted(status.items()):
        for change in changes if isinstance(changes, list) else [changes]:
            if isinstance(change, dict):
                for kind, paths in sorted(change.items()):
                    detail = ", ".join(sorted(paths)) if isinstance(paths, dict) else str(paths)
                    parts.append(f"{stage}: {kind} {detail}")
            else:
                parts.append(f"{stage}: {change}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- layout


def shard_paths(split: str, records: int, max_records: int) -> list[str]:
    count = max(1, -(-records // max_records))
    return [f"data/{split}-{index:05d}-of-{count:05d}.parquet" for index in range(count)]


def stage_files(manifest: dict, frames: dict[str, pl.DataFrame], tag: str, out: Path,
                max_shard_records: int = DEFAULT_SHARD_RECORDS) -> Staged:
    """Write the repository's files for a verified build into the empty folder ``out``."""
    manifest = with_commit(manifest)
    written: dict[str, dict] = {}
    data_files: dict[str, list[str]] = {}
    columns: list[str] | None = None
    for split, frame in frames.items():
        frame = frame.sort("id")
        columns = columns or frame.columns
        if frame.columns != columns:
            raise InputError(f"split {split}: columns {frame.columns} differ from the other splits' {columns}")
        paths = shard_paths(split, frame.height, max_shard_records)
        for index, path in enumerate(paths):
            shard = frame.slice(index * max_shard_records, max_shard_records)
            write_parquet(shard, out / path)
            written[path] = {"split": split, "records": shard.height, "sha256": file_sha256(out / path)}
        data_files[split] = [f"data/{split}-*.parquet"] if len(paths) > 1 else paths
    # Declare the features when every column is text (the record contract); anything else is left to inference.
    all_text = all(dtype in (pl.String, pl.Null) for frame in frames.values() for dtype in frame.dtypes)
    readme = render_card(manifest, data_files=data_files, columns=columns if all_text else None)
    (out / "README.md").write_text(readme, encoding="utf-8")
    write_json({"format": LINEAGE_FORMAT, "name": manifest.get("name"), "version": tag,
                "dataset_hash": manifest["dataset_hash"], "shards": written, "manifest": manifest},
               out / "lineage.json")
    files = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    return Staged(out, files, manifest, tag)


# --------------------------------------------------------------------------- upload


def upload(staged: Staged, repo_id: str, private: bool = False, endpoint: str | None = None) -> str:
    """Push ``staged`` in one commit, then tag it; returns the commit id."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    if get_token() is None:
        raise InputError("no Hugging Face token: set HF_TOKEN or run `hf auth login` first")
    api = HfApi(endpoint=endpoint)
    commit = None
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        tags = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo_id, repo_type="dataset").tags}
        if staged.tag in tags:
            raise InputError(f"{repo_id} already has a tag {staged.tag} (commit {tags[staged.tag][:12]}): "
                             "a published version is never overwritten; bump split.version and rebuild")
        # Shards of an earlier version that this one does not have would otherwise linger under data/.
        stale = sorted(path for path in api.list_repo_files(repo_id, repo_type="dataset")
                       if path.startswith("data/") and path not in staged.files)
        operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(staged.folder / path))
                      for path in staged.files]
        operations += [CommitOperationDelete(path_in_repo=path) for path in stale]
        name = staged.manifest.get("name") or repo_id
        commit = api.create_commit(
            repo_id, operations, repo_type="dataset",
            commit_message=f"{name} {staged.tag}",
            commit_description=f"dataset_hash {staged.manifest['dataset_hash']}\n"
                               f"built from git commit {(staged.manifest.get('code') or {}).get('git_commit')}")
        api.create_tag(repo_id, tag=staged.tag, revision=commit.oid, repo_type="dataset",
                       tag_message=f"dataset_hash {staged.manifest['dataset_hash']}")
    except Exception as exc:
        if not _network_error(exc, HfHubHTTPError):
            raise
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        if commit is not None:  # the data is there but untagged: say exactly how to finish
            raise RemoteError(
                f"pushed the data to {repo_id} as commit {commit.oid} but could not tag it {staged.tag} ({reason}); "
                f"tag it with: hf repos tag create {repo_id} {staged.tag} --revision {commit.oid} "
                "--repo-type dataset") from None
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            raise RemoteError(f"the Hub refused the request for {repo_id}: {reason}") from None
        raise RemoteError(f"the Hub at {endpoint or api.endpoint} could not be reached for {repo_id}: "
                          f"{reason}") from None
    return commit.oid


def _network_error(exc: Exception, hub_error: type) -> bool:
    """An HTTP refusal or a transport failure (huggingface_hub's HTTP client is httpx or httpx2 by version)."""
    return (isinstance(exc, (hub_error, OSError))
            or type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "requests"))


def publish(processed_dir: str | Path, repo_id: str, version: str | None = None, *, private: bool = False,
            dry_run_dir: str | Path | None = None, allow_unknown_license: bool = False,
            allow_noncommercial: bool = False, endpoint: str | None = None,
            max_shard_records: int = DEFAULT_SHARD_RECORDS, allow_dirty: bool = False) -> Staged:
    """Check, lay out and push (or, with ``dry_run_dir``, only write) one dataset version.

    Returns what was staged; after a push its ``commit`` is the Hub commit id
    (the staging folder itself is gone then).
    """
    processed_dir = Path(processed_dir)
    if not re.match(r"^[\w.-]+/[\w.-]+$", repo_id):
        raise InputError(f"--repo-id {repo_id!r}: expected ORG/NAME")
    manifest, frames = manifests.verify_processed(processed_dir)
    tag = check_version(version, manifest)
    licence = derive_licence({source.name: source.licence for source in manifests.sources(manifest)})
    licence.check_publishable(allow_unknown_license, allow_noncommercial)
    check_dvc_clean(processed_dir)
    changes = check_git_clean(processed_dir, allow_dirty)
    if changes:
        manifest = {**manifest, "code": {**(manifest.get("code") or {}), "published_dirty": changes}}
    if dry_run_dir is not None:
        target = Path(dry_run_dir)
        if target.exists() and any(target.iterdir()):
            raise InputError(f"{target}: not empty; a dry run writes exactly the repository's files "
                             "into an empty folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            staged = stage_files(manifest, frames, tag, staging, max_shard_records)
            if target.exists():
                target.rmdir()
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        staged.folder = target
        log.info("dry run: %d files for %s %s in %s (licence %s, dataset_hash %s)", len(staged.files), repo_id,
                 staged.tag, target, licence.spdx or licence.hub_id, manifest["dataset_hash"])
        return staged
    with tempfile.TemporaryDirectory(prefix="jinstruct-publish-") as tmp:
        staged = stage_files(manifest, frames, tag, Path(tmp), max_shard_records)
        staged.commit = upload(staged, repo_id, private=private, endpoint=endpoint)
    log.info("published %s %s: commit %s, tag %s, dataset_hash %s", repo_id, staged.tag, staged.commit, staged.tag,
             manifest["dataset_hash"])
    return staged
