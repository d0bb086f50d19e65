"""The bad-input battery (issue #13): the CLI run as a user runs it, on plain files, as a real subprocess.

Every case asserts the exit code, the one line on stderr (never a traceback), and, when the command
wrote outputs, that every input record is in the output or the rejects by id, exactly once.
Expected ids are written out by hand: ``<file stem>:<line>`` for kept rows, ``parse:<file>:<line>``
for lines that could not be read.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import polars as pl
import pytest

from jinstruct.records import InputError
from jinstruct.sources.archive import extract_members
from tests.support import SRC

GOOD = "これは十分な長さのある日本語の文章です。テストのために書かれました。"
OTHER = "まったく別の内容を持つ二つ目の日本語の文章で、重複ではありません。"


def jinstruct(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("JINSTRUCT_MIRROR", None)
    return subprocess.run([sys.executable, "-m", "jinstruct", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def one_line_error(done: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    """The run failed with ``code`` and exactly one stderr line holding every fragment."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def ids(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)["id"].to_list()
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def accounted(out: Path, rejects: Path, expected_in: list[str]) -> tuple[list[str], list[str]]:
    """in = out ∪ rejected by id, with no id in both and none twice."""
    kept, rejected = ids(out), ids(rejects)
    assert len(kept) + len(rejected) == len(set(kept) | set(rejected)), (kept, rejected)
    assert sorted(kept + rejected) == sorted(expected_in)
    return kept, rejected


def reasons(path: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["id"]: f"{row['reason']}: {row['detail']}" for row in rows}


def write_lines(path: Path, *lines: str | bytes) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def text(value: object) -> str:
    return json.dumps({"text": value}, ensure_ascii=False)


def normalize(tmp_path: Path, source: Path, *extra: str) -> subprocess.CompletedProcess:
    return jinstruct("normalize", "--input", str(source), "--output", str(tmp_path / "out.jsonl"),
                     "--rejects", str(tmp_path / "rejects.jsonl"), "--text-field", "text", *extra, cwd=tmp_path)


def test_all_runs_below_use_no_params_file(tmp_path):
    assert not (tmp_path / "params.yaml").exists()


# --------------------------------------------------------------------------- the 13 numbered defects
# Defects 10-13 are about rules and tests rather than inputs; their tests live beside the code:
# 10 (containment from distinct n-grams) tests/test_dedup.py, 11 (lineage verifies only what it
# recomputed) tests/test_lineage.py, 12 (publish refuses a dirty tree) tests/test_publish.py,
# 13 (tests that can fail: ids balance, splits by group) tests/test_stage.py and tests/test_splits.py.


def test_1_filter_and_dedup_on_a_plain_file_without_task_column_account_their_rejects(tmp_path):
    source = write_lines(tmp_path / "plain.jsonl", text(GOOD), text(""), text(GOOD), text(OTHER))
    done = jinstruct("filter", "--input", str(source), "--output", str(tmp_path / "out.jsonl"), "--rejects",
                     str(tmp_path / "rejects.jsonl"), "--text-field", "text", "--set", "decontamination.enabled=false",
                     cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    _, rejected = accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl",
                            ["plain:1", "plain:2", "plain:3", "plain:4"])
    assert "plain:2" in rejected

    done = jinstruct("dedup", "--input", str(source), "--output", str(tmp_path / "d.jsonl"), "--rejects",
                     str(tmp_path / "d.rejects.jsonl"), "--text-field", "text", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    _, rejected = accounted(tmp_path / "d.jsonl", tmp_path / "d.rejects.jsonl",
                               ["plain:1", "plain:2", "plain:3", "plain:4"])
    assert rejected == ["plain:3"]


@pytest.mark.parametrize("flags, message", [
    (["--output", "{out}", "--rejects", "{input}"], "--rejects {input}: is the input file"),
    (["--output", "{out}", "--rejects", "{out}"], "--rejects {out}: is also given as --output"),
    (["--output", "{input}"], "--output {input}: is the input file"),
    (["--output", "/dev/full"], "--output /dev/full: exists and is not a regular file"),
])
def test_2_colliding_or_device_paths_are_refused_before_anything_is_read_or_written(tmp_path, flags, message):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD), text(OTHER))
    before = source.read_bytes()
    names = {"input": str(source), "out": str(tmp_path / "out.jsonl")}
    done = jinstruct("normalize", "--input", str(source), "--text-field", "text",
                     *[flag.format(**names) for flag in flags], cwd=tmp_path)
    one_line_error(done, 2, message.format(**names))
    assert source.read_bytes() == before
    assert not (tmp_path / "out.jsonl").exists()
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_3_a_lone_surrogate_is_one_parse_error_reject(tmp_path):
    source = write_lines(tmp_path / "s.jsonl", text(GOOD), '{"text": "bad \\ud800 here"}', text(OTHER))
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["s:1", "parse:s.jsonl:2", "s:3"])
    assert "s.jsonl:2: a lone UTF-16 surrogate" in reasons(tmp_path / "rejects.jsonl")["parse:s.jsonl:2"]


def test_4_a_run_while_another_writes_the_same_outputs_fails_fast_and_touches_nothing(tmp_path):
    import fcntl

    source = write_lines(tmp_path / "in.jsonl", text(GOOD), text(OTHER))
    assert normalize(tmp_path, source, "--stats", str(tmp_path / "stats.json")).returncode == 0
    previous = {name: (tmp_path / name).read_bytes() for name in ("out.jsonl", "rejects.jsonl", "stats.json")}
    other = write_lines(tmp_path / "other.jsonl", text(OTHER))
    with open(tmp_path / ".out.jsonl.lock", "a") as held:  # the lock a running run holds (jinstruct.outputs)
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = normalize(tmp_path, other, "--stats", str(tmp_path / "stats.json"))
    one_line_error(done, 2, "another run is writing these outputs", ".out.jsonl.lock")
    assert {name: (tmp_path / name).read_bytes() for name in previous} == previous
    # once the lock is free, the same command replaces all three together
    assert normalize(tmp_path, other, "--stats", str(tmp_path / "stats.json")).returncode == 0
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["other:1"])
    assert json.loads((tmp_path / "stats.json").read_text())["records_in"] == 1


@pytest.mark.parametrize("command, setting, fragments", [
    ("dedup", "treshold=0.1", ["dedup.treshold", "threshold"]),
    ("filter", "lenght.enabled=false", ["filter.lenght", "length"]),
    ("filter", "repetition.max_char_rn=3", ["filter.repetition.max_char_rn", "max_char_run"]),
    ("filter", "length.echo_min_chars=abc", ["filter.length.echo_min_chars"]),
    ("filter", "length.bounds.general.output=[5,-1]", ["filter.length.bounds"]),
    ("normalize", "rules.wave_dashes=false", ["normalize.rules.wave_dashes"]),
])
def test_5_a_set_with_an_unknown_key_or_a_bad_value_is_refused_before_reading(tmp_path, command, setting, fragments):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD), text(OTHER))
    done = jinstruct(command, "--input", str(source), "--output", str(tmp_path / "out.jsonl"),
                     "--text-field", "text", "--set", setting, cwd=tmp_path)
    one_line_error(done, 2, *fragments)
    assert not (tmp_path / "out.jsonl").exists()


def test_6a_a_whitespace_only_file_is_one_line(tmp_path):
    source = tmp_path / "blank.jsonl"
    source.write_text("  \n\n\t\n")
    one_line_error(normalize(tmp_path, source), 2, "blank.jsonl: holds only whitespace (no records)")


def test_6b_a_json_file_holding_an_array_is_read_item_by_item(tmp_path):
    source = tmp_path / "arr.json"
    source.write_text(json.dumps([{"text": GOOD}, 5, {"text": OTHER}], ensure_ascii=False))
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["arr:1", "parse:arr.json item 2", "arr:3"])
    assert "a number, not an object" in reasons(tmp_path / "rejects.jsonl")["parse:arr.json item 2"]


def test_6c_a_nested_object_in_a_text_field_is_a_parse_error(tmp_path):
    source = write_lines(tmp_path / "n.jsonl", text(GOOD), text({"nested": "object"}))
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["n:1", "parse:n.jsonl:2"])
    assert "field 'text' holds an object, expected text" in reasons(tmp_path / "rejects.jsonl")["parse:n.jsonl:2"]


def test_7_urls_that_climb_are_refused_and_credentials_never_written(tmp_path, monkeypatch):
    from jinstruct.sources.fetch import fetch_sources, mirror_candidate
    from jinstruct.sources.spec import enabled_sources

    mirror = tmp_path / "mirror"
    (mirror / "example.com" / "d").mkdir(parents=True)
    (mirror / "example.com" / "d" / "r.jsonl").write_text(text(GOOD) + "\n", encoding="utf-8")
    (tmp_path / "secret").write_text("not for data/raw")
    climbing = {"s": {"kind": "url", "url": "https://example.com/../../secret", "format": "jsonl",
                      "license": "CC0-1.0", "adapter": "columns", "columns": {"output": "text"}}}
    with pytest.raises(InputError, match=r"'\.' or '\.\.' segment"):
        enabled_sources(climbing)
    with pytest.raises(InputError, match="segment"):
        mirror_candidate(mirror, "https://example.com/d/%2e%2e/%2e%2e/secret")

    with_token = {"s": {**climbing["s"], "url": "https://alice:tok3n-SECRET@example.com/d/r.jsonl"}}
    monkeypatch.setenv("JINSTRUCT_MIRROR", str(mirror))
    provenance = fetch_sources(enabled_sources(with_token), tmp_path / "raw", {"max_archive_bytes": 10**6})
    written = (tmp_path / "raw" / "provenance.json").read_text()
    assert "tok3n-SECRET" not in written and "alice" not in written
    assert provenance["sources"]["s"]["files"]["data"]["url"] == "https://example.com/d/r.jsonl"


def test_8a_an_output_that_is_a_folder_is_one_line(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    (tmp_path / "folder.jsonl").mkdir()
    done = jinstruct("normalize", "--input", str(source), "--output", str(tmp_path / "folder.jsonl"),
                     "--text-field", "text", cwd=tmp_path)
    one_line_error(done, 2, "folder.jsonl: is a folder")


def test_8b_an_unwritable_location_is_one_line_with_the_filesystem_exit_code(tmp_path):
    target = Path("/sys/jinstruct-battery.jsonl")
    try:
        target.write_text("")
        target.unlink()
        pytest.skip("/sys is writable on this machine")
    except OSError:
        pass
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    done = jinstruct("normalize", "--input", str(source), "--output", str(target), "--text-field", "text",
                     cwd=tmp_path)
    one_line_error(done, 3, "cannot write or read /sys")


def test_8d_an_archive_with_a_file_that_is_also_a_folder_is_refused(tmp_path):
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("x.jsonl", "x.jsonl/y.jsonl"):
            data = (text(GOOD) + "\n").encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InputError, match="'x.jsonl' is both a file and a folder"):
        extract_members(archive, tmp_path / "out", "*.jsonl", 10**6, "source t")


def test_8f_a_clusters_path_that_is_a_folder_stops_before_any_output_is_written(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD), text(GOOD))
    (tmp_path / "clusters.parquet").mkdir()
    done = jinstruct("dedup", "--input", str(source), "--output", str(tmp_path / "out.jsonl"), "--clusters",
                     str(tmp_path / "clusters.parquet"), "--text-field", "text", cwd=tmp_path)
    one_line_error(done, 2, "--clusters", "is a folder")
    assert not (tmp_path / "out.jsonl").exists()


def test_9a_duplicate_ids_are_refused(tmp_path):
    source = write_lines(tmp_path / "dup.jsonl", json.dumps({"id": "x:1", "text": GOOD}),
                         json.dumps({"id": "x:2", "text": OTHER}), json.dumps({"id": "x:1", "text": OTHER}))
    one_line_error(normalize(tmp_path, source), 2, "duplicate id 'x:1' (line 1 and line 3)")
    assert not (tmp_path / "out.jsonl").exists()


def test_9b_stats_hash_does_not_depend_on_row_order(tmp_path):
    rows = [json.dumps({"id": f"r{i}", "output": f"{GOOD}{i}", "__line__": i}, ensure_ascii=False) for i in range(5)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    forward = write_lines(tmp_path / "a" / "train.jsonl", *rows)
    backward = write_lines(tmp_path / "b" / "train.jsonl", *reversed(rows))
    hashes = []
    for path in (forward, backward):
        done = jinstruct("stats", "--json", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        hashes.append(json.loads(done.stdout)["dataset_hash"])
    assert hashes[0] == hashes[1]


def test_9c_a_user_column_named___line___passes_through_and_is_not_the_id(tmp_path):
    source = write_lines(tmp_path / "u.jsonl", json.dumps({"text": GOOD, "__line__": "user-7"}, ensure_ascii=False),
                         json.dumps({"text": OTHER, "__line__": "user-9"}, ensure_ascii=False))
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(row["id"], row["__line__"]) for row in rows] == [("u:1", "user-7"), ("u:2", "user-9")]


def test_9d_a_utf8_bom_costs_no_record(tmp_path):
    source = tmp_path / "bom.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + (text(GOOD) + "\n" + text(OTHER) + "\n").encode())
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    _, rejected = accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["bom:1", "bom:2"])
    assert rejected == []


@pytest.mark.parametrize("name", ["out.csv", "out.ndjson", "out"])
def test_9e_output_format_follows_the_extension_and_others_are_refused(tmp_path, name):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    done = jinstruct("normalize", "--input", str(source), "--output", str(tmp_path / name), "--text-field", "text",
                     cwd=tmp_path)
    one_line_error(done, 2, "unknown output format", "*.jsonl, *.json, *.parquet")
    assert not (tmp_path / name).exists()


# --------------------------------------------------------------------------- more bad inputs


def test_missing_input(tmp_path):
    one_line_error(normalize(tmp_path, tmp_path / "nope.jsonl"), 2, "nope.jsonl: no such file")


def test_input_is_a_folder(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()
    one_line_error(normalize(tmp_path, tmp_path / "dir.jsonl"), 2, "dir.jsonl: is a folder")


def test_zero_byte_input(tmp_path):
    (tmp_path / "e.jsonl").write_bytes(b"")
    one_line_error(normalize(tmp_path, tmp_path / "e.jsonl"), 2, "e.jsonl: the file is empty")


@pytest.mark.parametrize("line, problem", [
    (b'{"text": "\xff\xfe"}', "invalid UTF-8 at byte"),
    (b'{"text": "cut', "not JSON"),
    (b'"just a string"', "a string, not an object"),
    (b"[1, 2]", "a list, not an object"),
    (b"null", "null, not an object"),
    (b'{"text": 12}', "field 'text' holds a number, expected text"),
    (b'{"text": ["a", "b"]}', "field 'text' holds a list, expected text"),
    (b'{"text": true}', "field 'text' holds a boolean, expected text"),
    (b'{"text": "a"} {"text": "b"}', "not JSON: Extra data"),
    (b'{"text": NaN}', "field 'text' holds a number"),
    (b'{"text": "nul\x00byte"}', "not JSON: Invalid control character"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_a_broken_line_is_one_reject_naming_file_and_line(tmp_path, line, problem):
    source = write_lines(tmp_path / "b.jsonl", text(GOOD), line, text(OTHER))
    done = normalize(tmp_path, source)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["b:1", "parse:b.jsonl:2", "b:3"])
    detail = reasons(tmp_path / "rejects.jsonl")["parse:b.jsonl:2"]
    assert detail.startswith("parse_error: b.jsonl:2: ") and problem in detail


def test_crlf_blank_lines_and_no_final_newline_keep_line_numbers(tmp_path):
    source = tmp_path / "w.jsonl"
    source.write_bytes((text(GOOD) + "\r\n\r\n   \n" + text(OTHER)).encode())
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    kept, _ = accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["w:1", "w:4"])
    assert kept == ["w:1", "w:4"]


def test_a_valid_surrogate_pair_is_kept_as_its_character(tmp_path):
    source = write_lines(tmp_path / "p.jsonl",
                         '{"text": "絵文字 \\ud83d\\ude00 です。十分な長さの文章にしておきます。"}')
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    row = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert "\U0001F600" in row["raw_text"]


def test_a_key_first_seen_after_many_rows_is_kept(tmp_path):
    rows = [text(f"{GOOD}{i}") for i in range(300)] + [json.dumps({"text": OTHER, "late": "kept"}, ensure_ascii=False)]
    source = write_lines(tmp_path / "late.jsonl", *rows)
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    last = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["id"] == "late:301" and last["late"] == "kept"


def test_a_pass_through_column_with_mixed_types_does_not_stop_the_run(tmp_path):
    source = write_lines(tmp_path / "m.jsonl", json.dumps({"text": GOOD, "meta": 1}, ensure_ascii=False),
                         json.dumps({"text": OTHER, "meta": "one"}, ensure_ascii=False))
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["m:1", "m:2"])


def test_a_file_of_only_broken_lines_rejects_every_line(tmp_path):
    source = write_lines(tmp_path / "x.jsonl", "{", "[", "]")
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    kept, _ = accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl",
                        ["parse:x.jsonl:1", "parse:x.jsonl:2", "parse:x.jsonl:3"])
    assert kept == []


def test_a_corrupt_parquet_file(tmp_path):
    (tmp_path / "c.parquet").write_bytes(b"PAR1 not really")
    one_line_error(normalize(tmp_path, tmp_path / "c.parquet"), 2, "c.parquet: not a readable Parquet file")


def test_a_json_file_with_a_jsonl_extension_mistake(tmp_path):
    (tmp_path / "records.txt").write_text(text(GOOD) + "\n")
    one_line_error(normalize(tmp_path, tmp_path / "records.txt"), 2, "not a readable Parquet file",
                   "JSON files need a .jsonl, .ndjson or .json name")


def test_a_parquet_text_column_that_is_not_text(tmp_path):
    pl.DataFrame({"text": [1, 2]}).write_parquet(tmp_path / "i.parquet")
    one_line_error(normalize(tmp_path, tmp_path / "i.parquet"), 2, "column 'text' holds Int64, expected text")


def test_a_parquet_file_with_the_reserved_line_column(tmp_path):
    pl.DataFrame({"text": [GOOD], "__jinstruct_line__": [1]}).write_parquet(tmp_path / "r.parquet")
    one_line_error(normalize(tmp_path, tmp_path / "r.parquet"), 2, "__jinstruct_line__, which jinstruct reserves")


def test_a_text_field_that_no_record_has(tmp_path):
    source = write_lines(tmp_path / "t.jsonl", json.dumps({"body": GOOD}, ensure_ascii=False))
    one_line_error(normalize(tmp_path, source), 2, "no column 'text' (columns: body")


def test_an_id_column_with_a_missing_id(tmp_path):
    source = write_lines(tmp_path / "n.jsonl", json.dumps({"id": "a", "text": GOOD}, ensure_ascii=False),
                         json.dumps({"id": None, "text": OTHER}, ensure_ascii=False))
    one_line_error(normalize(tmp_path, source), 2, "record at line 2 has no id")


def test_integer_ids_are_kept_as_text(tmp_path):
    source = write_lines(tmp_path / "ints.jsonl", json.dumps({"id": 7, "text": GOOD}, ensure_ascii=False),
                         json.dumps({"id": 9, "text": OTHER}, ensure_ascii=False))
    done = normalize(tmp_path, source)
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["7", "9"])


def test_a_set_without_equals(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    one_line_error(normalize(tmp_path, source, "--set", "pii.phone"), 2, "expected key=value")


def test_a_stats_file_that_is_not_json(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    one_line_error(normalize(tmp_path, source, "--stats", str(tmp_path / "stats.txt")), 2,
                   "--stats", "unknown output format '.txt'")


def test_an_output_whose_parent_is_a_file(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    (tmp_path / "afile").write_text("x")
    done = jinstruct("normalize", "--input", str(source), "--output", str(tmp_path / "afile" / "out.jsonl"),
                     "--text-field", "text", cwd=tmp_path)
    one_line_error(done, 2, "afile is a file, not a folder")


def test_stats_and_output_on_the_same_path(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    done = jinstruct("normalize", "--input", str(source), "--output", str(tmp_path / "o.json"), "--stats",
                     str(tmp_path / "o.json"), "--text-field", "text", cwd=tmp_path)
    one_line_error(done, 2, "--stats", "is also given as --output")


def test_a_dedup_index_must_be_parquet(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD))
    done = jinstruct("dedup", "--input", str(source), "--output", str(tmp_path / "o.jsonl"), "--index",
                     str(tmp_path / "index.jsonl"), "--text-field", "text", cwd=tmp_path)
    one_line_error(done, 2, "--index", "name it *.parquet")


@pytest.mark.parametrize("content, message", [
    ("[{\"text\": 1},", "starts like a JSON array but is not valid JSON"),
    ("[]", "an empty JSON array (no records)"),
    ("42", "holds a number, expected records"),
])
def test_json_files_that_hold_no_records(tmp_path, content, message):
    (tmp_path / "j.json").write_text(content)
    one_line_error(normalize(tmp_path, tmp_path / "j.json"), 2, message)


def test_a_pretty_printed_single_object_json_file_is_one_record(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps({"text": GOOD}, ensure_ascii=False, indent=2))
    done = normalize(tmp_path, tmp_path / "one.json")
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", ["one:1"])


def test_parquet_output_and_a_new_output_folder(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", text(GOOD), text(OTHER))
    done = jinstruct("normalize", "--input", str(source), "--output", str(tmp_path / "new" / "out.parquet"),
                     "--rejects", str(tmp_path / "new" / "rej.parquet"), "--text-field", "text", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    accounted(tmp_path / "new" / "out.parquet", tmp_path / "new" / "rej.parquet", ["in:1", "in:2"])
    assert (tmp_path / "new" / "out.parquet").read_bytes()[:4] == b"PAR1"


def test_debug_shows_the_traceback(tmp_path):
    done = jinstruct("normalize", "--debug", "--input", str(tmp_path / "nope.jsonl"), "--output",
                     str(tmp_path / "o.jsonl"), cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" in done.stderr and "InputError" in done.stderr


def test_lineage_of_a_file_without_a_dataset_hash(tmp_path):
    (tmp_path / "m.json").write_text('{"accuracy": 0.5}')
    one_line_error(jinstruct("lineage", str(tmp_path / "m.json"), cwd=tmp_path), 2, "no dataset_hash")


def test_3b_a_lone_surrogate_in_a_source_file_is_one_convert_error_not_a_crash(tmp_path):
    from jinstruct.sources.readers import read_jsonl

    source = write_lines(tmp_path / "src.jsonl", text(GOOD), '{"text": "\\udc00"}', text(OTHER))
    read = read_jsonl([source], tmp_path, {"text": "text"})
    assert read.rows["__line__"].to_list() == [1, 3]
    assert read.errors.rows() == [("src.jsonl", 2, "a lone UTF-16 surrogate escape that is no character")]
