"""``jinstruct.load_dataset``: a dataset version as a ``datasets.DatasetDict``, its hash checked.

Accepts a processed folder (data/processed, with manifest.json), a published or
dry-run folder (with lineage.json and the card's data files), or a Hub dataset
repository id, optionally at a version tag. Whatever the route, the records
that were loaded are hashed again and must give the dataset hash the version
states; otherwise the load fails instead of returning different data.
"""

from __future__ import annotations

import json
from pathlib import Path

from jinstruct.records import InputError, dataset_hash
from jinstruct.release import manifest as manifests


def load_dataset(path_or_repo: str | Path, version: str | None = None, *, endpoint: str | None = None):
    """Load a dataset version; ``version`` is the Hub tag (or, for a local folder, a check of its version)."""
    import datasets

    folder = Path(path_or_repo)
    if not folder.exists():
        folder = _download(str(path_or_repo), version, endpoint)
    elif folder.is_file():
        folder = folder.parent
    try:
        if (folder / "lineage.json").is_file():
            stated = json.loads((folder / "lineage.json").read_text(encoding="utf-8"))
            loaded = datasets.load_dataset(str(folder))          # the card's configs name the data files
        elif (folder / "manifest.json").is_file():
            stated = manifests.read_manifest(folder)
            loaded = datasets.load_dataset("parquet", data_files={
                split: str(manifests.split_file(stated, split, folder)) for split in manifests.split_names(stated)})
        else:
            raise InputError(f"{folder}: neither a processed folder (manifest.json) nor a published one (lineage.json)")
    except (ValueError, FileNotFoundError) as exc:   # what datasets raises for missing or empty data files
        raise InputError(f"{folder}: datasets could not load it ({str(exc).splitlines()[0]})") from None
    if version is not None and stated.get("version") != version:
        raise InputError(f"{folder}: holds version {stated.get('version')}, not {version}")
    recomputed = dataset_hash({split: loaded[split].to_polars() for split in loaded})
    if recomputed != stated["dataset_hash"]:
        raise InputError(f"{folder}: the loaded records hash to {recomputed[:12]}…, "
                         f"the version states {stated['dataset_hash'][:12]}… (files changed or incomplete)")
    return loaded


def _download(repo_id: str, version: str | None, endpoint: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if "/" not in repo_id:
        raise InputError(f"{repo_id}: no such folder, and not a Hub repository id (ORG/NAME)")
    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", revision=version, endpoint=endpoint))
    except (HfHubHTTPError, LocalEntryNotFoundError) as exc:
        raise InputError(f"{repo_id}" + (f" at {version}" if version else "")
                         + f": could not download ({str(exc).splitlines()[0]})") from None
