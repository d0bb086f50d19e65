import hashlib
import json
import random

import polars as pl
import pytest

from jinstruct.records import (
    InputError,
    atomic_path,
    check_text_columns,
    dataset_hash,
    read_records,
    read_table,
    write_jsonl,
    write_parquet,
)
from tests.support.records import record


def test_atomic_path_keeps_previous_file_when_writer_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("previous")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("killed")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_dataset_hash_is_the_documented_canonical_form():
    train = pl.DataFrame([record(2), record(1)])
    lines = ['{"records":2,"split":"train"}\n']
    for i in (1, 2):  # sorted by id, compact, sorted keys, UTF-8
        lines.append(json.dumps(record(i), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n")
    expected = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    assert dataset_hash({"train": train}) == expected


def test_dataset_hash_ignores_row_order_and_parquet_encoding(tmp_path):
    frame = pl.DataFrame([record(i) for i in range(5)])
    frame.write_parquet(tmp_path / "a.parquet", compression="snappy")
    write_parquet(frame.reverse(), tmp_path / "b.parquet")
    a, b = pl.read_parquet(tmp_path / "a.parquet"), pl.read_parquet(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() != (tmp_path / "b.parquet").read_bytes()
    assert dataset_hash({"train": a}) == dataset_hash({"train": b})


def test_dataset_hash_changes_when_a_record_moves_split():
    rows = [record(i) for i in range(4)]
    before = {"train": pl.DataFrame(rows[:3]), "test": pl.DataFrame(rows[3:])}
    after = {"train": pl.DataFrame(rows[:2]), "test": pl.DataFrame(rows[2:])}
    assert dataset_hash(before) != dataset_hash(after)


def test_write_parquet_is_byte_identical_for_the_same_frame(tmp_path):
    frame = pl.DataFrame([record(i) for i in range(50)])
    write_parquet(frame, tmp_path / "1.parquet")
    write_parquet(frame, tmp_path / "2.parquet")
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


def test_broken_jsonl_lines_become_rejects_with_file_and_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        json.dumps(record(1), ensure_ascii=False).encode() + b"\n"
        + b'{"id": "broken", \n'
        + b'{"id": "bad-bytes", "output": "\xff\xfe"}\n'
        + b"[1, 2]\n"
        + json.dumps(record(2), ensure_ascii=False).encode() + b"\n")
    rows, rejects = read_table(path)
    assert rows["id"].to_list() == ["fixture:1", "fixture:2"]
    assert rejects["reason"].to_list() == ["parse_error"] * 3
    assert rejects["detail"][0].startswith("mixed.jsonl:2:")
    assert "invalid UTF-8" in rejects["detail"][1] and rejects["detail"][1].startswith("mixed.jsonl:3")
    assert "not an object" in rejects["detail"][2]


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_table(path)


def test_wrong_column_types_are_named(tmp_path):
    path = tmp_path / "typed.parquet"
    pl.DataFrame([record(1)]).with_columns(output=pl.lit(3)).write_parquet(path)
    with pytest.raises(InputError, match="'output' holds Int32"):
        read_records(path)
    with pytest.raises(InputError, match="no column 'text'"):
        check_text_columns(pl.read_parquet(path), ["text"], path)


def test_corrupt_parquet_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_table(path)


def test_text_that_was_another_type_is_a_reject_wherever_its_line_is(tmp_path):
    # the whole file parses at once; lines whose text field may have been coerced from
    # another type are checked alone, cut out of the data by their newlines: the first line,
    # a CRLF line, and a last line without a final newline
    path = tmp_path / "typed.jsonl"
    path.write_bytes(b'{"id": "a", "text": 12}\n'
                     b'{"id": "b", "text": "3. a numbered line"}\r\n'
                     b'{"id": "c", "text": "plain"}\n'
                     b'{"id": "d", "text": [1, 2]}')
    rows, rejects = read_table(path, text_fields=["text"])
    assert rows["id"].to_list() == ["b", "c"]
    assert rows["text"].to_list() == ["3. a numbered line", "plain"]
    assert [detail.split(": ", 1)[0] for detail in rejects["detail"]] == ["typed.jsonl:1", "typed.jsonl:4"]
    assert "holds a number" in rejects["detail"][0] and "holds a list" in rejects["detail"][1]


@pytest.mark.parametrize("rows", [3, 5_000])
def test_jsonl_lines_read_back_as_the_rows_for_every_ascii_byte_and_any_text(tmp_path, rows):
    # every byte below 0x80 (controls, quote, backslash, DEL), non-ASCII including U+2028/U+2029,
    # empty texts and nulls, numbers, NaN, booleans, lists and a column name that needs escaping
    rng = random.Random(rows)
    alphabet = [chr(point) for point in range(0x80)] + list("「引用」é\u2028\u2029\u00a0漢字カタカナ😀\ufeff")
    texts = ["漢字\u2028"] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(rows - 1)]
    frame = pl.DataFrame({"id": [f"r:{i}" for i in range(rows)],
                          'te"xt\n': [None if i % 11 == 2 else text for i, text in enumerate(texts)],
                          "n": [None if i % 5 == 1 else i - 7 for i in range(rows)],
                          "score": [float("nan") if i == 1 else i / 3 for i in range(rows)],
                          "ok": [i % 3 == 0 for i in range(rows)],
                          "tags": [["a", texts[i][:3]] for i in range(rows)]})
    path = tmp_path / "out.jsonl"
    write_jsonl(frame, path)
    data = path.read_bytes()
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == rows + 1  # one line per row, none inside a text
    expected = [dict(zip(frame.columns, row)) for row in frame.iter_rows()]
    expected[1]["score"] = None  # JSON has no NaN: written as null
    assert [json.loads(line) for line in lines[:-1]] == expected
    assert [list(json.loads(line)) for line in lines[:2]] == [frame.columns] * 2  # the frame's column order
    assert "漢字\u2028".encode() in data and b"\\u6f22" not in data  # non-ASCII as UTF-8, not escaped


def test_jsonl_written_in_parts_is_the_jsonl_of_the_whole(tmp_path):
    frame = pl.DataFrame({"id": [f"r:{i}" for i in range(100)], "text": [f"「{i}」\n" for i in range(100)]})
    write_jsonl(frame, tmp_path / "whole.jsonl")
    parts = b""
    for start in (0, 37, 80):
        write_jsonl(frame.slice(start, {0: 37, 37: 43, 80: 20}[start]), tmp_path / "part.jsonl")
        parts += (tmp_path / "part.jsonl").read_bytes()
    assert parts == (tmp_path / "whole.jsonl").read_bytes()


def _careful_and_flat_reads(path, monkeypatch, text_fields=()):
    """read_table with the flat-object shortcut (records._read_flat) off, then forced on."""
    import jinstruct.records as records

    monkeypatch.setattr(records, "FLAT_SCAN_FROM_BYTES", 1 << 62)
    careful = read_table(path, text_fields=text_fields)
    monkeypatch.setattr(records, "FLAT_SCAN_FROM_BYTES", 0)
    used = []
    real = records._read_flat
    monkeypatch.setattr(records, "_read_flat", lambda *args: used.append(real(*args)) or used[-1])
    flat = read_table(path, text_fields=text_fields)
    return careful, flat, used


def test_the_flat_object_shortcut_reads_what_polars_infers_from_every_row(tmp_path, monkeypatch):
    # keys first seen late, keys in another order per line, keys only ever null, a key needing
    # escapes, CRLF, spaces around tokens, a last line without a newline: polars' own column
    # order for such files is not the order keys first appear (id comes last here)
    lines = [b'{"id": "a", "text": null, "x": "1"}', b'{"id": "b", "x": "2", "q": null, "u": null}\r',
             b'{"z": "3"}', b'{ "y" : null , "id" : "c\\"\\u00e9" }'] \
        + [b'{"text": "%d", "te\\"xt\\n": "\xe6\xbc\xa2"}' % i for i in range(300)] + [b'{"late": "kept", "id": "d"}']
    path = tmp_path / "flat.jsonl"
    path.write_bytes(b"\n".join(lines))
    (careful, careful_rejects), (flat, flat_rejects), used = _careful_and_flat_reads(path, monkeypatch, ["text"])
    assert used and used[0] is not None  # the shortcut took this file
    assert flat.columns == careful.columns and flat.schema == careful.schema
    assert flat.equals(careful) and flat_rejects.equals(careful_rejects) and flat.height == len(lines)
    assert flat["late"][-1] == "kept" and flat["__jinstruct_line__"].to_list() == list(range(1, len(lines) + 1))


@pytest.mark.parametrize("content", [
    b'{"id": "a", "n": 1}\n{"id": "b", "n": 2}\n',                      # a number: polars infers the type
    b'{"id": "a", "text": "x"}\n\n{"id": "b", "text": "y"}\n',          # a blank line shifts the numbering
    b'{"id": "a", "text": "\\ud800"}\n{"id": "b", "text": "y"}\n',      # a lone surrogate escape
    b'{"id": "a", "text": {"k": "v"}}\n{"id": "b", "text": "y"}\n',     # an object in a text field
    b'{"id": "a", "text": "x"}\n[1, 2]\n{"id": "b", "text": "y"}\n',    # not an object
    b'{"id": "a", "text": "x"\n',                                        # broken
    b'{"id": "a", "text": "\xff"}\n{"id": "b", "text": "y"}\n',        # not UTF-8
])
def test_files_the_flat_shortcut_refuses_read_as_before(tmp_path, monkeypatch, content):
    path = tmp_path / "other.jsonl"
    path.write_bytes(content)
    (careful, careful_rejects), (flat, flat_rejects), used = _careful_and_flat_reads(path, monkeypatch, ["text"])
    assert flat.equals(careful) and flat_rejects.equals(careful_rejects)
    assert used in ([], [None])  # refused (or, for a broken file, never asked)


def test_a_large_flat_file_reads_when_the_scan_is_compiled_afresh(tmp_path):
    # a fresh install has no numba cache: compiling the scan held the mapped file's buffer until the
    # garbage collector ran, and closing the map by hand then failed with BufferError (first runs only)
    import os
    import subprocess
    import sys

    import jinstruct.records as records

    line = json.dumps({"id": "r", "text": "長い行" * 300}, ensure_ascii=False).encode()
    count = records.FLAT_SCAN_FROM_BYTES // len(line) + 100
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join([line] * count) + b"\n")
    program = ("import sys; from jinstruct.records import read_table; "
               "frame, rejects = read_table(sys.argv[1], text_fields=['text']); print(frame.height, rejects.height)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}  # empty: numba compiles the scan
    done = subprocess.run([sys.executable, "-c", program, str(path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(count), "0"]
