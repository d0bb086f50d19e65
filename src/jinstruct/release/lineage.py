"""From a result back to its sources: metric → adapter → dataset → manifest → sources → params → code.

``trace(path)`` accepts a metrics file (metrics/train.json, metrics/eval.json),
an adapter folder, a dataset card, a manifest (or the processed folder), or a
published folder with lineage.json. It follows the links the files state and
verifies each one against what is on disk: the adapter file's sha256, the
dataset hash recomputed from the split files, each source file's sha256 under
data/raw, the build params against params.yaml, the commit in git. The first
link that fails is named; links that cannot be checked here (a file that is not
on disk) say so rather than pass silently.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import yaml

from jinstruct.nested import flatten
from jinstruct.records import InputError, dataset_hash, file_sha256, read_table
from jinstruct.release import manifest as manifests
from jinstruct.release.card import card_hash
from jinstruct.release.project import project_root

# verified: recomputed here and equal; stated: what a starting file claims (nothing to recompute)
VERIFIED, BROKEN, UNCHECKED, WARNING, STATED = "verified", "broken", "unchecked", "warning", "stated"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
BASE_WEIGHTS = "model.safetensors"  # train.base.WEIGHTS_FILE (not imported: that module's package pulls in torch)
DATA_STAGE_PARAMS = ("sources", "normalize", "dedup", "filter", "split")


@dataclass
class Link:
    kind: str                  # metric, adapter, dataset, manifest, source, params, code
    name: str                  # the file, folder or source this link is about
    status: str
    detail: str
    facts: dict = field(default_factory=dict)


@dataclass
class Chain:
    start: str
    links: list[Link] = field(default_factory=list)

    @property
    def first_broken(self) -> Link | None:
        return next((link for link in self.links if link.status == BROKEN), None)

    @property
    def unchecked(self) -> list[Link]:
        return [link for link in self.links if link.status == UNCHECKED]

    def add(self, kind: str, name: str, status: str, detail: str, **facts) -> Link:
        link = Link(kind, name, status, detail, facts)
        self.links.append(link)
        return link

    def to_dict(self) -> dict:
        broken = self.first_broken
        return {"start": self.start, "verified": broken is None and not self.unchecked,
                "links": [asdict(link) for link in self.links], "first_broken": asdict(broken) if broken else None,
                "unchecked": [link.name for link in self.unchecked]}


# --------------------------------------------------------------------------- entry points


def trace(path: str | Path, root: str | Path | None = None) -> Chain:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    root = Path(root).resolve() if root else (project_root(path) or Path.cwd().resolve())
    chain = Chain(str(path))
    if path.is_dir():
        if (path / "lineage.json").is_file():
            _published(chain, path, root)
        elif (path / "manifest.json").is_file():
            _manifest(chain, path, root, claimed=None)
        elif (path / ADAPTER_WEIGHTS).is_file() or (path / "training_info.json").is_file():
            _adapter(chain, path, root, claimed_hash=None, claimed_sha=None)
        else:
            raise InputError(f"{path}: not an adapter, processed or published dataset folder")
    elif path.suffix == ".md":
        _card(chain, path, root)
    else:
        document = _read_json(path)
        if document.get("format", "").startswith("jinstruct-lineage"):
            _published(chain, path.parent, root)
        elif "splits" in document and "dataset_hash" in document:
            _manifest(chain, path.parent, root, claimed=None)
        elif "dataset_hash" in document:
            _metric(chain, path, document, root)
        else:
            raise InputError(f"{path}: no dataset_hash; not a metrics file, manifest or lineage.json")
    return chain


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: not a JSON file") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object")
    return value


def _short(value: str | None) -> str:
    return f"{value[:12]}…" if value else "none"


# --------------------------------------------------------------------------- links


def _metric(chain: Chain, path: Path, metrics: dict, root: Path) -> None:
    # Numeric leaves (e.g. jnli.accuracy), for the reader to see which result this chain is about.
    scores = {key: value for key, value in flatten(metrics) if isinstance(value, (int, float))
              and not isinstance(value, bool) and not key.startswith(("contamination", "eval_data_sha256"))}
    claimed_sha = metrics.get("adapter_sha256")
    chain.add("metric", str(path), STATED, f"states dataset_hash {_short(metrics['dataset_hash'])}"
              + (f" and adapter_sha256 {_short(claimed_sha)}" if claimed_sha else ""),
              dataset_hash=metrics["dataset_hash"], adapter_sha256=claimed_sha,
              base_identity=metrics.get("base_identity"), scores=dict(list(scores.items())[:12]))
    adapter = Path(metrics["adapter"]) if isinstance(metrics.get("adapter"), str) else root / "models" / "adapter"
    if not adapter.is_absolute():
        adapter = root / adapter
    if adapter.is_dir():
        _adapter(chain, adapter, root, claimed_hash=metrics["dataset_hash"], claimed_sha=claimed_sha,
                 claimed_base=metrics.get("base_identity"))
    else:
        chain.add("adapter", str(adapter), UNCHECKED, "no adapter folder on disk")
        _dataset(chain, root, metrics["dataset_hash"], "the metric")


def _adapter(chain: Chain, folder: Path, root: Path, claimed_hash: str | None, claimed_sha: str | None,
             claimed_base: dict | None = None) -> None:
    info_path = folder / "training_info.json"
    info = _read_json(info_path) if info_path.is_file() else {}
    weights = folder / ADAPTER_WEIGHTS
    facts = {"dataset_hash": info.get("dataset_hash"), "base_identity": info.get("base_identity"),
             "params": info.get("params"), "git_commit": info.get("git_commit")}
    if weights.is_file():
        facts["adapter_sha256"] = actual_sha = file_sha256(weights)
    else:
        actual_sha = None
    if not info:
        chain.add("adapter", str(folder), BROKEN,
                  "no training_info.json: the adapter does not say what it was trained on", **facts)
        return
    if claimed_sha and actual_sha != claimed_sha:
        chain.add("adapter", str(folder), BROKEN, f"{ADAPTER_WEIGHTS} sha256 {_short(actual_sha)} differs from the "
                  f"metric's adapter_sha256 {_short(claimed_sha)}: the scores are not of these weights", **facts)
    elif claimed_hash and info.get("dataset_hash") != claimed_hash:
        chain.add("adapter", str(folder), BROKEN,
                  f"trained on dataset {_short(info.get('dataset_hash'))} but the metric "
                  f"states {_short(claimed_hash)}", **facts)
    elif claimed_base and info.get("base_identity") and claimed_base != info["base_identity"]:
        chain.add("adapter", str(folder), BROKEN, "the metric's base_identity differs from the base the adapter was "
                  "trained on (training_info.json)", **facts)
    elif claimed_sha:
        chain.add("adapter", str(folder), VERIFIED, f"{ADAPTER_WEIGHTS} sha256 matches; trained on dataset "
                  f"{_short(info.get('dataset_hash'))}", **facts)
    else:
        chain.add("adapter", str(folder), UNCHECKED if actual_sha else BROKEN,
                  "no adapter_sha256 to check the weights against" if actual_sha else f"no {ADAPTER_WEIGHTS}", **facts)
    _base(chain, root, claimed_base or info.get("base_identity"))
    if info.get("dataset_hash"):
        _dataset(chain, root, info["dataset_hash"], "the adapter")


def _base(chain: Chain, root: Path, identity: dict | None) -> None:
    """The base model's weights, hashed again and compared with the identity the adapter and metric state."""
    weights = root / "models" / "base" / BASE_WEIGHTS
    claimed = (identity or {}).get("weights_sha256")
    if not claimed:
        chain.add("base", str(weights), UNCHECKED, "the base identity records no weights_sha256",
                  base_identity=identity)
    elif not weights.is_file():
        chain.add("base", str(weights), UNCHECKED,
                  "the base model's weights are not on disk (dvc repro base / dvc pull)", base_identity=identity)
    elif file_sha256(weights) != claimed:
        chain.add("base", str(weights), BROKEN, f"sha256 {_short(file_sha256(weights))} differs from the recorded "
                  f"weights_sha256 {_short(claimed)}", base_identity=identity)
    else:
        chain.add("base", str(weights), VERIFIED, "weights match the recorded weights_sha256", base_identity=identity)


def _dataset(chain: Chain, root: Path, claimed: str, who: str) -> None:
    processed = root / "data" / "processed"
    if not (processed / "manifest.json").is_file():
        chain.add("dataset", claimed, UNCHECKED, f"{processed}/manifest.json is not on disk")
        return
    built = manifests.read_manifest(processed)["dataset_hash"]
    if built != claimed:
        chain.add("dataset", claimed, BROKEN, f"{who} names dataset {_short(claimed)} but {processed}/manifest.json "
                  f"is dataset {_short(built)} (rebuild with `dvc repro` or check out the matching revision)")
        return
    chain.add("dataset", claimed, VERIFIED, f"{who}'s dataset hash is the one in {processed}/manifest.json")
    _manifest(chain, processed, root, claimed=claimed)


def _card(chain: Chain, path: Path, root: Path) -> None:
    stated = card_hash(path.read_text(encoding="utf-8"))
    if stated is None:
        chain.add("card", str(path), BROKEN, "the card states no dataset_hash")
        return
    chain.add("card", str(path), STATED, f"states dataset_hash {_short(stated)}", dataset_hash=stated)
    folder = path.parent
    if (folder / "lineage.json").is_file():
        _published(chain, folder, root, claimed=stated)
    elif (folder / "manifest.json").is_file():
        _manifest(chain, folder, root, claimed=stated)
    else:
        _dataset(chain, root, stated, "the card")


def _published(chain: Chain, folder: Path, root: Path, claimed: str | None = None) -> None:
    """A published (or dry-run) folder: shards checked against lineage.json, hash recomputed from them."""
    lineage = _read_json(folder / "lineage.json")
    manifest = lineage.get("manifest") or {}
    problems = [f"{folder / name}: missing" if not (folder / name).is_file() else
                f"{folder / name}: sha256 differs from lineage.json"
                for name, shard in sorted(lineage.get("shards", {}).items())
                if not (folder / name).is_file() or file_sha256(folder / name) != shard.get("sha256")]
    link_name = str(folder / "lineage.json")
    if claimed and claimed != lineage.get("dataset_hash"):
        chain.add("manifest", link_name, BROKEN, f"the card states {_short(claimed)} but lineage.json "
                  f"{_short(lineage.get('dataset_hash'))}")
    elif problems:
        chain.add("manifest", link_name, BROKEN, problems[0])
    else:
        frames: dict[str, list] = {}
        for name, shard in sorted(lineage.get("shards", {}).items()):
            frames.setdefault(shard["split"], []).append(read_table(folder / name)[0])
        recomputed = dataset_hash({split: pl.concat(parts) for split, parts in frames.items()})
        status = VERIFIED if recomputed == lineage.get("dataset_hash") == manifest.get("dataset_hash") else BROKEN
        chain.add("manifest", link_name, status, "dataset hash recomputed from the shards matches" if status == VERIFIED
                  else f"dataset hash recomputed from the shards is {_short(recomputed)}, lineage.json states "
                  f"{_short(lineage.get('dataset_hash'))}", dataset_hash=lineage.get("dataset_hash"))
    _upstream(chain, manifest, root)


def _manifest(chain: Chain, folder: Path, root: Path, claimed: str | None) -> None:
    manifest = manifests.read_manifest(folder)
    name = str(folder / "manifest.json")
    facts = {"dataset_hash": manifest["dataset_hash"], "version": manifest.get("version"),
             "splits": {split: info.get("records") for split, info in manifest["splits"].items()}}
    problems = manifests.split_file_problems(folder, manifest)
    if claimed and claimed != manifest["dataset_hash"]:
        chain.add("manifest", name, BROKEN, f"states dataset {_short(manifest['dataset_hash'])}, expected "
                  f"{_short(claimed)}", **facts)
    elif problems:
        chain.add("manifest", name, BROKEN, problems[0], **facts)
    else:
        recomputed = dataset_hash(manifests.read_split_frames(folder, manifest))
        if recomputed == manifest["dataset_hash"]:
            chain.add("manifest", name, VERIFIED, "split files match their sha256 and the recomputed dataset hash",
                      **facts)
        else:
            chain.add("manifest", name, BROKEN, f"dataset hash recomputed from the split files is {_short(recomputed)}",
                      **facts)
    _upstream(chain, manifest, root)


def _upstream(chain: Chain, manifest: dict, root: Path) -> None:
    for source in manifests.sources(manifest):
        _source(chain, source, root)
    _params(chain, manifest, root)
    _code(chain, manifest, root)


def _source(chain: Chain, source: manifests.SourceInfo, root: Path) -> None:
    files = [{"url": f.url, "revision": f.revision, "sha256": f.sha256} for f in source.files]
    facts = {"licence": source.licence, "records_kept": source.records_kept, "files": files}
    if not source.files:
        chain.add("source", source.name, BROKEN, "no URL or sha256 recorded for this source", **facts)
        return
    unchecked = []
    for file in source.files:
        if not file.sha256:
            chain.add("source", source.name, BROKEN, f"{file.url}: no sha256 recorded", **facts)
            return
        local = _local_copy(root, source.name, file)
        if local is None:
            unchecked.append(file.url or "?")
        elif file_sha256(local) != file.sha256:
            chain.add("source", source.name, BROKEN, f"{local}: sha256 differs from the recorded {_short(file.sha256)}",
                      **facts)
            return
    if unchecked and source.entry.get("kind") == "archive":
        _archive(chain, source, root, facts)
    elif unchecked:
        chain.add("source", source.name, UNCHECKED, f"not in data/raw: {', '.join(unchecked)}", **facts)
    else:
        chain.add("source", source.name, VERIFIED, f"{len(source.files)} file(s) in data/raw match their sha256",
                  **facts)


def _archive(chain: Chain, source: manifests.SourceInfo, root: Path, facts: dict) -> None:
    """An archive source: fetch keeps only its extracted members, so the archive itself is looked for in the
    mirrors (JINSTRUCT_MIRROR, fetch.mirrors) and its recorded sha256 recomputed there."""
    from jinstruct.sources.fetch import mirror_candidate, mirror_dirs

    params_file = root / "params.yaml"
    params = (yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}) if params_file.is_file() else {}
    mirrors = [m if m.is_absolute() else root / m for m in mirror_dirs((params.get("fetch") or {}).get("mirrors"))]
    for file in source.files:
        found = None
        for mirror in mirrors:
            try:
                candidate = mirror_candidate(mirror, file.url or "")
            except InputError:
                continue
            if candidate.is_file():
                found = candidate
                break
        if found is None:
            chain.add("source", source.name, UNCHECKED, f"archive {file.url} is in no mirror "
                      f"({', '.join(map(str, mirrors)) or 'none set: JINSTRUCT_MIRROR'}), so its sha256 cannot be "
                      "recomputed here", **facts)
            return
        if file_sha256(found) != file.sha256:
            chain.add("source", source.name, BROKEN, f"{found}: sha256 differs from the recorded {_short(file.sha256)}",
                      **facts)
            return
    chain.add("source", source.name, VERIFIED, "archive in the mirror matches its recorded sha256", **facts)


def _local_copy(root: Path, name: str, file: manifests.SourceFile) -> Path | None:
    # fetch records paths relative to data/raw ("tanaka/train.ja"); accept project-relative ones too.
    candidates = [root / "data" / "raw" / file.path, root / file.path] if file.path else []
    if file.url:
        candidates.append(root / "data" / "raw" / name / file.url.rstrip("/").rsplit("/", 1)[-1])
    return next((path for path in candidates if path.is_file()), None)


def _params(chain: Chain, manifest: dict, root: Path) -> None:
    recorded = {key: value for key, value in (manifest.get("params") or {}).items() if key in DATA_STAGE_PARAMS}
    params_file = root / "params.yaml"
    if not recorded:
        chain.add("params", "data-stage params", BROKEN, "the manifest records no build params")
        return
    if not params_file.is_file():
        chain.add("params", "data-stage params", UNCHECKED, "no params.yaml to compare with", params=recorded)
        return
    current = yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}
    changed = sorted(key for key in recorded if current.get(key) != recorded[key])
    if changed:
        chain.add("params", "data-stage params", WARNING, f"params.yaml has changed since this build in: "
                  f"{', '.join(changed)} (`dvc repro` would build a different version)", params=recorded)
    else:
        chain.add("params", "data-stage params", VERIFIED, "params.yaml holds the same data-stage params",
                  params=recorded)


def _code(chain: Chain, manifest: dict, root: Path) -> None:
    code = manifest.get("code") or {}
    commit = code.get("git_commit")
    if not commit:
        # A build's data/processed names no commit (DVC hashes it; see release.assemble.code_identity): the code
        # is that of the checkout holding it, whose dvc.lock pins every code file the stages ran.
        from jinstruct.release.project import git_state

        code = {**code, **git_state(root)}
        commit = code.get("git_commit")
        if not commit:
            chain.add("code", "git commit", UNCHECKED, "neither the manifest nor a git checkout names a commit",
                      **code)
        elif code.get("git_dirty"):
            chain.add("code", commit, WARNING, "the checkout holding this build has uncommitted code changes", **code)
        else:
            chain.add("code", commit, VERIFIED, "built by this checkout (HEAD); dvc.lock pins its code files", **code)
        return
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=root,
                           capture_output=True).returncode == 0
    if not found:
        chain.add("code", commit, UNCHECKED, "commit not in this clone (fetch it to check)", **code)
    elif code.get("git_dirty"):
        chain.add("code", commit, WARNING, "built from a working tree with uncommitted changes", **code)
    else:
        chain.add("code", commit, VERIFIED, "commit exists in this repository", **code)


# --------------------------------------------------------------------------- output


_MARK = {VERIFIED: "ok", BROKEN: "BROKEN", UNCHECKED: "unchecked", WARNING: "warning", STATED: "states"}


def format_chain(chain: Chain) -> str:
    lines = [f"lineage of {chain.start}"]
    for link in chain.links:
        lines.append(f"  {_MARK[link.status]:<9} {link.kind:<8} {link.name}")
        lines.append(f"            {link.detail}")
        for file in link.facts.get("files") or []:
            lines.append(f"            {file['url']} @ {file['revision'] or '?'} sha256 {file['sha256'] or '?'}")
        for key in ("params", "base_identity", "scores"):
            value = link.facts.get(key)
            if isinstance(value, dict) and key == "params":
                value = {k: v for k, v in value.items() if k != "sources"}   # the source links show those
            if value:
                lines.append(f"            {key}: {', '.join(f'{k}={_shown(v)}' for k, v in flatten(value))}"
                             if isinstance(value, dict) else f"            {key}: {value}")
    broken = chain.first_broken
    if broken:
        lines.append(f"first broken link: {broken.kind} {broken.name}: {broken.detail}")
    elif chain.unchecked:
        lines.append(f"{len(chain.unchecked)} link(s) could not be checked here ("
                     f"{', '.join(link.kind for link in chain.unchecked)}); the links that were checked hold")
    else:
        lines.append("every link verified")
    return "\n".join(lines)


def _shown(value: object) -> object:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
