"""The schema of a plain JSON Lines file from one compiled pass, instead of polars inferring it row by row.

``pl.read_ndjson(infer_schema_length=None)`` builds a value tree of every row to
infer the schema (a key first seen in the last row must not be dropped): at 500k
records of ~1.3 KB that took 2.4 s of a 3.5 s read, while the same parse with the
schema given took 1.0 s. polars infers the type of each row, keeps the distinct
row types in order of first appearance and merges those
(polars-json ``ndjson::iter_unique_dtypes``); the merged column order is not
simply the order in which keys first appear. For the files users mostly have,
every line one flat object whose values are strings or null, a row's type is its
keys in order, each with "string" or "null": this pass collects those distinct
row shapes, and polars infers the schema from one short line per shape, which
gives what it infers from the whole file (tests/test_records.py checks it on
files with late keys, nulls and reordered keys). The pass also counts the lines
and rules out what the careful reader must see (blank lines, a line that is not
one object, a number, list or object at the top level, a surrogate escape);
for anything else it answers None and records.py reads as before.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

_MAX_KEYS = 256     # distinct keys in a file
_MAX_SHAPES = 256   # distinct row shapes (keys, their order, string or null)
_MAX_CODES = 4096   # keys of all distinct shapes together
_STRING, _NULL = 1, 2


@numba.njit(inline="always")
def _skip_blank(data, position, stop):
    """Past JSON whitespace other than the newline that ends a line."""
    while position < stop and (data[position] == 32 or data[position] == 9 or data[position] == 13):
        position += 1
    return position


@numba.njit(inline="always")
def _string_end(data, position, stop):
    """data[position] opens a string: the position after its closing quote, or -1 (no closing
    quote on this line, or a \\u escape of a UTF-16 surrogate: the careful reader's case)."""
    position += 1
    while position < stop:
        byte = data[position]
        if byte > 92:  # most bytes of a text (all of UTF-8's multi-byte ones): nothing to look at
            position += 1
            continue
        if byte == 34:  # "
            return position + 1
        if byte == 10:  # a string never spans lines
            return -1
        if byte == 92:  # backslash: the next byte is escaped
            if position + 1 >= stop:
                return -1
            follow = data[position + 1]
            if (follow == 117 or follow == 85) and position + 3 < stop:  # \u, \U
                high, low = data[position + 2], data[position + 3]
                if (high == 100 or high == 68) and (56 <= low <= 57 or 97 <= low <= 102 or 65 <= low <= 70):
                    return -1  # \ud800-\udfff: records.py checks such lines one by one
            position += 2
            continue
        position += 1
    return -1


@numba.njit(inline="always")
def _same_bytes(data, first, first_stop, second, second_stop):
    if first_stop - first != second_stop - second:
        return False
    for offset in range(first_stop - first):  # noqa: SIM110 (numba compiles no generator)
        if data[first + offset] != data[second + offset]:
            return False
    return True


@numba.njit(inline="always")
def _same_shape(codes, shape_offsets, shape_hashes, known, row, width, digest):
    if shape_hashes[known] != digest or shape_offsets[known + 1] - shape_offsets[known] != width:
        return False
    for k in range(width):  # noqa: SIM110 (numba compiles no generator)
        if codes[shape_offsets[known] + k] != row[k]:
            return False
    return True


@numba.njit(nogil=True, cache=True)
def _scan(data, start, stop, key_starts, key_stops, codes, shape_offsets, shape_hashes):
    """Lines of data[start:stop] (stop: the end of the last line): each must be ``{"key": string or
    null, ...}`` with JSON whitespace. Distinct keys (raw bytes, in order of first appearance) go to
    key_starts/key_stops; distinct row shapes (a row's keys in its order, each with the kind of its
    value: key × 4 + _STRING or _NULL), in order of first appearance, to codes[shape_offsets[i]:
    shape_offsets[i + 1]]. Returns (lines, keys, shapes), or (-1, 0, 0) when some line is anything
    else or the tables are full."""
    keys = 0
    shapes = 0
    lines = 0
    shape_offsets[0] = 0
    row = np.empty(codes.size, dtype=np.int64)
    previous = -1
    position = start
    while position < stop:
        position = _skip_blank(data, position, stop)
        if position >= stop or data[position] != 123:  # {
            return -1, 0, 0
        position = _skip_blank(data, position + 1, stop)
        width = 0
        digest = np.uint64(14695981039346656037)
        while True:
            if position >= stop or data[position] != 34:
                return -1, 0, 0
            key_start = position + 1
            position = _string_end(data, position, stop)
            if position < 0:
                return -1, 0, 0
            key_stop = position - 1
            position = _skip_blank(data, position, stop)
            if position >= stop or data[position] != 58:  # :
                return -1, 0, 0
            position = _skip_blank(data, position + 1, stop)
            if position >= stop:
                return -1, 0, 0
            if data[position] == 34:
                kind = _STRING
                position = _string_end(data, position, stop)
                if position < 0:
                    return -1, 0, 0
            elif position + 4 <= stop and data[position] == 110 and data[position + 1] == 117 \
                    and data[position + 2] == 108 and data[position + 3] == 108:  # null
                kind = _NULL
                position += 4
            else:
                return -1, 0, 0
            found = -1
            # most lines repeat the keys of the line before, in its order
            if width < keys and _same_bytes(data, key_start, key_stop, key_starts[width], key_stops[width]):
                found = width
            else:
                for known in range(keys):
                    if _same_bytes(data, key_start, key_stop, key_starts[known], key_stops[known]):
                        found = known
                        break
            if found < 0:
                if keys == key_starts.size:
                    return -1, 0, 0
                key_starts[keys], key_stops[keys] = key_start, key_stop
                found = keys
                keys += 1
            if width == row.size:
                return -1, 0, 0
            row[width] = found * 4 + kind
            digest = (digest ^ np.uint64(row[width])) * np.uint64(1099511628211)
            width += 1
            position = _skip_blank(data, position, stop)
            if position < stop and data[position] == 44:  # ,
                position = _skip_blank(data, position + 1, stop)
                continue
            if position < stop and data[position] == 125:  # }
                position += 1
                break
            return -1, 0, 0
        position = _skip_blank(data, position, stop)
        if position < stop:
            if data[position] != 10:
                return -1, 0, 0
            position += 1
            if position >= stop:  # a newline right before the end: a blank last line
                return -1, 0, 0
        lines += 1
        # this row's shape: the line before's (most files), a known one, or a new one
        shape = -1
        if previous >= 0 and _same_shape(codes, shape_offsets, shape_hashes, previous, row, width, digest):
            shape = previous
        else:
            for known in range(shapes):
                if _same_shape(codes, shape_offsets, shape_hashes, known, row, width, digest):
                    shape = known
                    break
        if shape < 0:
            if shapes == shape_hashes.size or shape_offsets[shapes] + width > codes.size:
                return -1, 0, 0
            codes[shape_offsets[shapes]:shape_offsets[shapes] + width] = row[:width]
            shape_offsets[shapes + 1] = shape_offsets[shapes] + width
            shape_hashes[shapes] = digest
            shape = shapes
            shapes += 1
        previous = shape
    return lines, keys, shapes


def flat_string_schema(data: bytes, end: int, parts: int = 2) -> tuple[bytes, int] | None:
    """(one NDJSON line per distinct row shape, number of lines) of data[:end] when every line is one
    flat object of strings and nulls (module docstring); else None. polars infers from those few
    lines the schema it would infer from the whole file.

    ``end``: where the last line ends (trailing whitespace excluded). The data is cut at newlines
    into ``parts`` ranges scanned on threads (the pass releases the GIL); shapes are merged in range
    order, which keeps the order of first appearance."""
    buffer = np.frombuffer(data, dtype=np.uint8, count=end)
    bounds = [0]
    for part in range(1, parts):
        cut = data.find(b"\n", max(bounds[-1], end * part // parts), end)
        if cut < 0:
            break
        bounds.append(cut + 1)
    bounds.append(end)
    bounds = sorted(set(bounds))
    tables = [(np.empty(_MAX_KEYS, np.int64), np.empty(_MAX_KEYS, np.int64), np.empty(_MAX_CODES, np.int64),
               np.empty(_MAX_SHAPES + 1, np.int64), np.empty(_MAX_SHAPES, np.uint64)) for _ in bounds[1:]]
    results: list = [None] * len(tables)

    def scan(part: int) -> None:  # each range without the newline that ends it
        stop = bounds[part + 1] - (part + 2 < len(bounds))
        results[part] = _scan(buffer, bounds[part], stop, *tables[part])

    threads = [threading.Thread(target=scan, args=(part,)) for part in range(1, len(tables))]
    for thread in threads:
        thread.start()
    scan(0)
    for thread in threads:
        thread.join()
    lines, shapes = 0, {}
    for (starts, stops, codes, offsets, _), (found, keys, count) in zip(tables, results):
        if found < 0:
            return None
        lines += found
        names = [data[start:stop] for start, stop in zip(starts[:keys].tolist(), stops[:keys].tolist())]
        for shape in range(count):
            fields = [b'"%s":%s' % (names[code // 4], b'""' if code % 4 == _STRING else b"null")
                      for code in codes[offsets[shape]:offsets[shape + 1]].tolist()]
            shapes.setdefault(b"{" + b",".join(fields) + b"}", None)
    return b"\n".join(shapes), lines
