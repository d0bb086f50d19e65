"""fetch: mirror resolution, sha256 pins, safe archive extraction, provenance."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from jinstruct.records import InputError
from jinstruct.sources.fetch import fetch_sources
from jinstruct.sources.spec import enabled_sources, parse_source, revision_from_url
from tests.support import MIRROR, REPO_ROOT
from tests.support.sources import COMMIT, needs_shared_mirror, put_in_mirror, run_stage, sha256_of, tree_bytes

JSONL = ('{"instruction": "挨拶して", "output": "こんにちは"}\n'
         '{"instruction": "数えて", "output": "一、二、三"}\n').encode()
URL = f"https://example.org/owner/repo/{COMMIT}/data/train.jsonl"


def _fetch(sources: dict, out: Path, mirrors: list[Path], max_archive_bytes: int = 10_000_000) -> dict:
    params = {"mirrors": [str(m) for m in mirrors], "max_archive_bytes": max_archive_bytes, "timeout_seconds": 10}
    return fetch_sources(enabled_sources(sources), out, params)


def _url_source(sha256: str | None, url: str = URL) -> dict:
    return {"kind": "url", "url": url, "sha256": sha256, "format": "jsonl", "adapter": "columns", "license": "MIT"}


@pytest.fixture(autouse=True)
def _no_mirror_from_environment(monkeypatch):
    monkeypatch.delenv("JINSTRUCT_MIRROR", raising=False)


# --------------------------------------------------------------------------- url sources and mirrors


def test_fetch_from_mirror_writes_the_file_and_its_provenance(tmp_path):
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, URL, JSONL)
    out = tmp_path / "data" / "raw"
    _fetch({"demo": _url_source(sha)}, out, [mirror])
    assert (out / "demo" / "train.jsonl").read_bytes() == JSONL
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance == {"sources": {"demo": {
        "kind": "url", "format": "jsonl", "adapter": "columns", "license": "MIT", "revision": COMMIT,
        "records": 2, "bytes": len(JSONL),
        "files": {"data": {"url": URL, "sha256": sha, "bytes": len(JSONL), "pinned": True,
                           "path": "demo/train.jsonl"}},
    }}}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["raw"]  # no staging left behind


def test_environment_mirror_is_searched_before_params_mirrors(tmp_path, monkeypatch):
    first, second = tmp_path / "env-mirror", tmp_path / "params-mirror"
    put_in_mirror(first, URL, b'{"from": "env"}\n')
    put_in_mirror(second, URL, b'{"from": "params"}\n')
    monkeypatch.setenv("JINSTRUCT_MIRROR", str(first))
    _fetch({"demo": _url_source(None)}, tmp_path / "raw", [second])
    assert (tmp_path / "raw" / "demo" / "train.jsonl").read_bytes() == b'{"from": "env"}\n'


def test_sha256_mismatch_names_source_and_both_hashes_and_writes_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    actual = put_in_mirror(mirror, URL, JSONL)
    expected = sha256_of(b"something else")
    out = tmp_path / "raw"
    (out / "old").mkdir(parents=True)
    (out / "old" / "keep.txt").write_text("previous build")
    with pytest.raises(InputError) as caught:
        _fetch({"demo": _url_source(expected)}, out, [mirror])
    message = str(caught.value)
    assert "\n" not in message and "source demo" in message
    assert f"expected {expected}" in message and f"got {actual}" in message
    assert tree_bytes(out) == {"old/keep.txt": b"previous build"}  # the previous output is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror", "raw"]


def test_unresolvable_url_without_mirror_says_how_to_set_one(tmp_path):
    url = f"https://nonexistent.invalid/owner/repo/{COMMIT}/train.jsonl"
    with pytest.raises(InputError) as caught:
        _fetch({"demo": _url_source(None, url)}, tmp_path / "raw", [])
    message = str(caught.value)
    assert "source demo" in message and url in message
    assert "no mirror set" in message and "JINSTRUCT_MIRROR=../shared/mirror" in message
    assert not (tmp_path / "raw").exists()


def test_multi_file_source_keeps_each_file_under_its_url_name(tmp_path):
    mirror = tmp_path / "mirror"
    files = {}
    for role, text in (("ja", "猫 が い る 。\n"), ("en", "there is a cat .\n")):
        url = f"https://example.org/corpus/{COMMIT}/train.{role}"
        files[role] = {"url": url, "sha256": put_in_mirror(mirror, url, text.encode())}
    source = {"kind": "url", "files": files, "format": "parallel_text", "adapter": "tanaka_pairs",
              "license": "CC-BY-2.0-FR"}
    provenance = _fetch({"pairs": source}, tmp_path / "raw", [mirror])["sources"]["pairs"]
    assert (tmp_path / "raw" / "pairs" / "train.ja").read_text() == "猫 が い る 。\n"
    assert set(provenance["files"]) == {"ja", "en"} and provenance["records"] == 1
    assert provenance["revision"] == COMMIT


def test_local_source_is_copied_and_checked(tmp_path):
    local = tmp_path / "mine.jsonl"
    local.write_bytes(JSONL)
    source = {"kind": "local", "path": str(local), "sha256": sha256_of(JSONL), "format": "jsonl",
              "adapter": "columns", "license": "CC0-1.0"}
    provenance = _fetch({"mine": source}, tmp_path / "raw", [])["sources"]["mine"]
    assert (tmp_path / "raw" / "mine" / "mine.jsonl").read_bytes() == JSONL
    assert provenance["files"]["data"]["local_path"] == str(local) and provenance["revision"] is None
    source["sha256"] = sha256_of(b"x")
    with pytest.raises(InputError, match="sha256 mismatch"):
        _fetch({"mine": source}, tmp_path / "raw2", [])


# --------------------------------------------------------------------------- archives


def _tar(members: list[tuple[str, bytes | None, str | None]], compress: str = "gz") -> bytes:
    """(name, content, link target) → a tar archive; ``content`` None with a target = symlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compress}") as archive:
        for name, content, target in members:
            info = tarfile.TarInfo(name)
            if target is not None:
                info.type, info.linkname = (tarfile.SYMTYPE, target) if content is None else (tarfile.LNKTYPE, target)
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _archive_source(url: str, sha: str, members: str = "*/data/*.jsonl") -> dict:
    return {"kind": "archive", "url": url, "sha256": sha, "members": members, "format": "jsonl",
            "adapter": "dolly", "license": "CC-BY-SA-3.0"}


ARCHIVE_URL = f"https://example.org/owner/repo/archive/{COMMIT}.tar.gz"


def test_archive_members_matching_the_glob_are_extracted_with_their_paths(tmp_path):
    data = _tar([(f"repo-{COMMIT}/README.md", b"# readme\n", None),
                 (f"repo-{COMMIT}/data/00000.jsonl", JSONL.splitlines(keepends=True)[0], None),
                 (f"repo-{COMMIT}/data/00001.jsonl", JSONL.splitlines(keepends=True)[1], None)])
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, ARCHIVE_URL, data)
    provenance = _fetch({"dolly": _archive_source(ARCHIVE_URL, sha)}, tmp_path / "raw", [mirror])["sources"]["dolly"]
    assert tree_bytes(tmp_path / "raw" / "dolly") == {
        f"repo-{COMMIT}/data/00000.jsonl": JSONL.splitlines(keepends=True)[0],
        f"repo-{COMMIT}/data/00001.jsonl": JSONL.splitlines(keepends=True)[1],
    }
    assert provenance["records"] == 2 and provenance["revision"] == COMMIT
    expected = {"sha256": sha, "bytes": len(data), "extracted_files": 2, "extracted_bytes": len(JSONL)}
    assert {key: provenance["files"]["archive"][key] for key in expected} == expected
    assert not (tmp_path / "raw" / ".archives").exists()


@pytest.mark.parametrize("member, target, expected", [
    ("../evil", None, "'..' component"),
    ("/tmp/jinstruct-evil", None, "absolute path"),
    ("repo/data/link.jsonl", "../../../outside", "links outside"),
    ("repo/hard", "/etc/passwd", "links outside"),
])
def test_archive_attacks_stop_fetch_before_anything_is_written(tmp_path, member, target, expected):
    content = None if target is not None and member.endswith(".jsonl") else b"x\n"
    if target is None:
        members = [("repo/data/ok.jsonl", JSONL, None), (member, b"evil\n", None)]
    else:
        members = [("repo/data/ok.jsonl", JSONL, None), (member, content, target)]
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, ARCHIVE_URL, _tar(members))
    with pytest.raises(InputError, match=expected) as caught:
        _fetch({"bad": _archive_source(ARCHIVE_URL, sha)}, tmp_path / "work" / "raw", [mirror])
    assert "source bad" in str(caught.value) and member in str(caught.value)
    assert not (tmp_path / "work" / "raw").exists()
    assert list((tmp_path / "work").iterdir()) == []  # staging removed
    assert not Path("/tmp/jinstruct-evil").exists() and not (tmp_path / "work" / "evil").exists()


def test_zip_with_parent_path_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("repo/data/ok.jsonl", JSONL)
        archive.writestr("repo/../../evil.jsonl", b"evil\n")
    url = f"https://example.org/owner/repo/archive/{COMMIT}.zip"
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, url, buffer.getvalue())
    with pytest.raises(InputError, match=r"'\.\.' component"):
        _fetch({"bad": _archive_source(url, sha, "*.jsonl")}, tmp_path / "raw", [mirror])
    assert not (tmp_path / "raw").exists()


def test_zip_symlink_leaving_the_folder_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("repo/data/ok.jsonl", JSONL)
        link = zipfile.ZipInfo("repo/data/link.jsonl")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16  # how zip marks a symlink; the content is its target
        archive.writestr(link, "../../../etc/passwd")
    url = f"https://example.org/owner/repo/archive/{COMMIT}.zip"
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, url, buffer.getvalue())
    with pytest.raises(InputError,
                       match=r"'repo/data/link.jsonl' links outside the folder \(to '../../../etc/passwd'\)"):
        _fetch({"bad": _archive_source(url, sha)}, tmp_path / "raw", [mirror])
    assert not (tmp_path / "raw").exists()


def test_zip_members_are_extracted(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("repo/data/a.jsonl", JSONL)
        archive.writestr("repo/image.png", b"\x89PNG")
    url = f"https://example.org/owner/repo/archive/{COMMIT}.zip"
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, url, buffer.getvalue())
    _fetch({"z": _archive_source(url, sha)}, tmp_path / "raw", [mirror])
    assert tree_bytes(tmp_path / "raw" / "z") == {"repo/data/a.jsonl": JSONL}


def test_archive_over_the_size_cap_is_refused(tmp_path):
    big = b'{"output": "' + b"a" * 5000 + b'"}\n'
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, ARCHIVE_URL, _tar([("repo/data/big.jsonl", big, None)]))
    with pytest.raises(InputError, match="max_archive_bytes=4,000"):
        _fetch({"big": _archive_source(ARCHIVE_URL, sha)}, tmp_path / "raw", [mirror], max_archive_bytes=4000)
    assert not (tmp_path / "raw").exists()


def test_archive_with_no_matching_member_says_so(tmp_path):
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, ARCHIVE_URL, _tar([("repo/README.md", b"# hi\n", None)]))
    with pytest.raises(InputError, match=r"no archive member matches '\*/data/\*\.jsonl'"):
        _fetch({"empty": _archive_source(ARCHIVE_URL, sha)}, tmp_path / "raw", [mirror])


# --------------------------------------------------------------------------- params validation, hf


def test_source_validation_names_the_entry():
    with pytest.raises(InputError, match=r"sources\.x: kind 'ftp' is not one of"):
        parse_source("x", {"kind": "ftp", "format": "jsonl", "adapter": "columns", "license": "MIT"})
    with pytest.raises(InputError, match="sha256 'abc' is not 64 hex digits"):
        parse_source("x", {**_url_source("abc")})
    with pytest.raises(InputError, match="needs a license"):
        parse_source("x", {**_url_source(None), "license": ""})
    disabled = {"a": _url_source(None), "b": {**_url_source(None), "enabled": False}}
    assert [spec.name for spec in enabled_sources(disabled)] == ["a"]
    with pytest.raises(InputError, match="every entry of 'sources' is disabled"):
        enabled_sources({"b": disabled["b"]})
    assert enabled_sources({"b": {**disabled["b"], "task": "jnli"}}, "eval_sets") == []
    assert revision_from_url(ARCHIVE_URL) == COMMIT and revision_from_url("https://example.org/main/x") is None


def test_hf_source_needs_a_pinned_commit():
    hf = {"kind": "hf", "repo": "owner/dataset", "data_files": ["data/train.jsonl"], "format": "jsonl",
          "adapter": "columns", "license": "CC-BY-4.0"}
    with pytest.raises(InputError, match="full 40-hex commit id"):
        parse_source("hub", {**hf, "revision": "main"})
    with pytest.raises(InputError, match="'<owner>/<dataset>'"):
        parse_source("hub", {**hf, "repo": "dataset", "revision": COMMIT})
    with pytest.raises(InputError, match="leaves the repository"):
        parse_source("hub", {**hf, "revision": COMMIT, "data_files": ["../secrets"]})
    spec = parse_source("hub", {**hf, "revision": COMMIT})
    assert spec.locations[0].url == f"https://huggingface.co/datasets/owner/dataset/resolve/{COMMIT}/data/train.jsonl"


def test_hf_source_from_a_mirror_keeps_the_repository_path(tmp_path):
    url = f"https://huggingface.co/datasets/owner/dataset/resolve/{COMMIT}/data/train.jsonl"
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, url, JSONL)
    hf = {"kind": "hf", "repo": "owner/dataset", "revision": COMMIT, "data_files": ["data/train.jsonl"],
          "sha256": {"data/train.jsonl": sha}, "format": "jsonl", "adapter": "columns", "license": "CC-BY-4.0"}
    provenance = _fetch({"hub": hf}, tmp_path / "raw", [mirror])["sources"]["hub"]
    assert (tmp_path / "raw" / "hub" / "data" / "train.jsonl").read_bytes() == JSONL
    assert provenance["repo"] == "owner/dataset" and provenance["revision"] == COMMIT
    assert provenance["files"]["data/train.jsonl"]["url"] == url


def test_hf_source_offline_without_mirror_is_a_clear_error(tmp_path):
    hf = {"kind": "hf", "repo": "owner/dataset", "revision": COMMIT, "data_files": ["train.jsonl"],
          "format": "jsonl", "adapter": "columns", "license": "CC-BY-4.0", "endpoint": "https://nonexistent.invalid"}
    with pytest.raises(InputError, match="JINSTRUCT_MIRROR=../shared/mirror") as caught:
        _fetch({"hub": hf}, tmp_path / "raw", [])
    assert ("source hub: cannot download https://nonexistent.invalid/datasets/owner/dataset/resolve/"
            in str(caught.value))


# --------------------------------------------------------------------------- the real default sources


@needs_shared_mirror
def test_default_sources_from_the_shared_mirror_are_byte_identical_across_runs(tmp_path):
    sources = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["sources"]
    first = _fetch(sources, tmp_path / "one" / "raw", [MIRROR], max_archive_bytes=2_000_000_000)
    _fetch(sources, tmp_path / "two" / "raw", [MIRROR], max_archive_bytes=2_000_000_000)
    one, two = tree_bytes(tmp_path / "one" / "raw"), tree_bytes(tmp_path / "two" / "raw")
    assert one == two
    # upstream record counts as the mirror README states them
    records = {name: entry["records"] for name, entry in first["sources"].items()}
    assert records == {"dolly_ja": 15015, "alpaca_ja_seed": 175, "tanaka": 50000, "jcommonsenseqa": 8939,
                       "jsquad": 4442}
    assert sum(1 for name in one if name.startswith("dolly_ja/")) == 15015
    assert {"tanaka/train.ja", "tanaka/train.en", "jsquad/valid-v1.3.json"} <= set(one)
    text = one["provenance.json"].decode()
    assert str(MIRROR) not in text  # where the bytes came from is not part of the output
    assert json.loads(text)["sources"]["tanaka"]["revision"] == "312408a11c5fbcbc09443bebb18121f7efdcd61e"


@needs_shared_mirror
def test_fetch_stage_script_writes_raw_and_eval(tmp_path):
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["sources"] = {"alpaca_ja_seed": params["sources"]["alpaca_ja_seed"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    done = run_stage("fetch.py", tmp_path, mirror=MIRROR)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data/raw/alpaca_ja_seed/seed_tasks_jp_cleaned.jsonl").is_file()
    done = run_stage("fetch.py", tmp_path, "--eval", mirror=MIRROR)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data/eval/jnli/valid-v1.3.json").is_file()
    assert (tmp_path / "data/eval/jcommonsenseqa/valid-v1.3.json").is_file()
    provenance = json.loads((tmp_path / "data/eval/provenance.json").read_text())
    assert provenance["eval_sets"]["jnli"]["records"] == 2434 and provenance["eval_sets"]["jnli"]["task"] == "jnli"


def test_fetch_stage_script_without_mirror_fails_in_one_line(tmp_path):
    params = {"fetch": {"mirrors": [], "max_archive_bytes": 1000, "timeout_seconds": 5},
              "sources": {"demo": _url_source(None, f"https://nonexistent.invalid/{COMMIT}/x.jsonl")}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage("fetch.py", tmp_path)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("fetch: error:")]
    assert len(errors) == 1 and "JINSTRUCT_MIRROR" in errors[0] and "Traceback" not in done.stderr
