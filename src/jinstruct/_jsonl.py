"""JSON Lines bytes of a frame without a Python object per text: the bytes of ``json.dumps(row,
ensure_ascii=False)`` per row (records.write_jsonl's contract), made by numba over Arrow buffers.

A line is ``{"name": value, "name": value}`` with json's default separators, written by one
compiled loop (_lines). String columns are escaped there, from their UTF-8 bytes, with exactly
the rules of the standard library's encoder when ``ensure_ascii`` is off
(``json.encoder.py_encode_basestring``): ``"`` and ``\\`` get a backslash, \\b \\f \\n \\r \\t
their short escapes, any other byte below 0x20 ``\\u00xx`` (lower-case hex), every other byte
(DEL, U+2028, all non-ASCII) as it is; a null is ``null``. Other columns (numbers, floats,
lists, structs, …) are encoded value by value with the standard library's encoder, which gives
the bytes it gives them inside a row, and copied. tests/test_records.py compares the bytes with
``json.dumps`` per row on generated text holding every ASCII byte and non-ASCII characters.
"""

from __future__ import annotations

import json

import numba
import numpy as np
import polars as pl
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHORT = np.zeros(0x20, dtype=np.uint8)  # control byte -> the letter of its short escape, 0 for \u00xx
for _byte, _letter in ((0x08, "b"), (0x0C, "f"), (0x0A, "n"), (0x0D, "r"), (0x09, "t")):
    _SHORT[_byte] = ord(_letter)


@numba.njit(nogil=True, cache=True)
def _lines(offsets, data, valid, escape, pieces, piece_offsets, short, hexdigits):
    """Line r = pieces[0] value(0, r) pieces[1] value(1, r) … pieces[-1], every line after the other.

    Column c's value of row r is data[offsets[c, r]:offsets[c, r + 1]]: when ``escape[c]`` a text
    written as a JSON string (quotes added, bytes escaped as json does), or ``null`` where
    ``valid[c, r]`` is false; else bytes that are JSON already (copied)."""
    columns, rows = offsets.shape[0], offsets.shape[1] - 1
    room = rows * (piece_offsets[-1] - piece_offsets[0])
    for column in range(columns):  # an escaped byte takes at most 6, quotes or null at most 4 a value
        room += (6 if escape[column] else 1) * (offsets[column, rows] - offsets[column, 0]) + 4 * rows
    out = np.empty(room, dtype=np.uint8)  # untouched pages of the worst case cost nothing
    written = 0
    for row in range(rows):
        for column in range(columns + 1):
            for position in range(piece_offsets[column], piece_offsets[column + 1]):
                out[written] = pieces[position]
                written += 1
            if column == columns:
                break
            start, stop = offsets[column, row], offsets[column, row + 1]
            if not escape[column]:
                out[written:written + stop - start] = data[start:stop]
                written += stop - start
                continue
            if not valid[column, row]:
                out[written] = 0x6E  # null
                out[written + 1] = 0x75
                out[written + 2] = 0x6C
                out[written + 3] = 0x6C
                written += 4
                continue
            out[written] = 0x22
            written += 1
            run = start  # the bytes since the last one that needed an escape: copied as one block
            for position in range(start, stop):
                byte = data[position]
                if byte >= 0x20 and byte != 0x22 and byte != 0x5C:
                    continue
                out[written:written + position - run] = data[run:position]
                written += position - run
                run = position + 1
                if byte >= 0x20 or short[byte]:
                    out[written] = 0x5C
                    out[written + 1] = byte if byte >= 0x20 else short[byte]
                    written += 2
                else:
                    out[written] = 0x5C
                    out[written + 1] = 0x75  # u00xx
                    out[written + 2] = 0x30
                    out[written + 3] = 0x30
                    out[written + 4] = hexdigits[byte >> 4]
                    out[written + 5] = hexdigits[byte & 0xF]
                    written += 6
            out[written:written + stop - run] = data[run:stop]
            written += stop - run
            out[written] = 0x22
            written += 1
    return out[:written]


def _buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, UTF-8 bytes, valid) of a string column, as Arrow keeps them (one copy out of polars)."""
    array = series.rechunk().to_arrow()
    if not isinstance(array, pa.LargeStringArray):
        array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, dtype=np.uint8)
    valid = series.is_not_null().to_numpy()
    return offsets, data, valid


def _column(series: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(offsets, bytes, valid, escape) of a column: a string column's own text (escaped by _lines),
    any other column's values encoded by the standard library's encoder."""
    if series.dtype == pl.String:
        return (*_buffers(series), True)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    return (*_buffers(pl.Series([encode(value) for value in series.to_list()], dtype=pl.String)), False)


def jsonl_bytes(frame: pl.DataFrame) -> np.ndarray:
    """The UTF-8 bytes (uint8) of ``json.dumps(row, ensure_ascii=False) + "\\n"`` for every row of ``frame``
    (which must have a column)."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    names = [encode(name) for name in frame.columns]
    pieces = [("{" + names[0] + ": ").encode()] + [(", " + name + ": ").encode() for name in names[1:]] + [b"}\n"]
    piece_offsets = np.cumsum([0] + [len(piece) for piece in pieces]).astype(np.int64)
    columns = [_column(frame.to_series(position)) for position in range(frame.width)]
    bases = np.cumsum([0] + [data.size for _, data, _, _ in columns[:-1]])
    offsets = np.stack([column_offsets + base for (column_offsets, _, _, _), base in zip(columns, bases)])
    return _lines(offsets, np.concatenate([data for _, data, _, _ in columns]), np.stack([v for *_, v, _ in columns]),
                  np.array([escape for *_, escape in columns]), np.frombuffer(b"".join(pieces), dtype=np.uint8),
                  piece_offsets, _SHORT, _HEX)
