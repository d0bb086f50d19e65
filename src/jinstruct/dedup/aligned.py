"""verify: edits, compiled: the verdicts of edits.edit_verdict for many candidate pairs at once.

The rules are edits.py's, unchanged (its docstring gives them and their reasons; edit_verdict
stays the readable statement of them, and tests/dedup/test_aligned.py checks that these
verdicts equal its verdicts, and a small reference written from the rules, pair for pair).
What moves here is their cost: the Python version spent ~240 µs per pair on 1.3 KB records,
nearly all of it outside the alignment itself (the sentence split, the shared-sentence sets,
one regex per guard per small edit). Three steps per batch of pairs, over the keys as
UTF-32 code-point arrays:

1. ``_prepare`` (compiled): each pair's units (its fields when both keys hold the same number
   of fields, else the whole keys); per unit the digit runs compared, the sentence split, the
   sentences both sides hold (as a multiset) and what is left of each side;
2. the Levenshtein opcodes of what is left (``_opcodes``, compiled): the alignment rapidfuzz's
   ``Levenshtein.opcodes`` gives, which edit_verdict uses, chosen the same way among equal-cost
   ones (another choice would give other verdicts); units that rapidfuzz aligns with Hirschberg's
   algorithm keep rapidfuzz's opcodes;
3. ``_judge`` (compiled): small edits joined, whole sentences dropped, added or moved, the
   number, negation, person, word and list-item guards, the shared share, then the field rule.

The compiled steps release the GIL (``nogil``) and are cached on disk (``cache``), like the
sketch loop in minhash.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numba
import numpy as np
import polars as pl
from rapidfuzz.distance import Levenshtein

from jinstruct.dedup.edits import (
    ACCEPTED,
    ITEM,
    KANJI_WORD,
    NEGATION,
    NUMBER,
    PERSON,
    PERSON_LABEL,
    PRONOUNS,
    TOO_DIFFERENT,
)
from jinstruct.dedup.keys import _FUSED, _FUSED_OR_UNSAFE, _fold_text, _stacked
from jinstruct.dedup.lsh import sorted_unique
from jinstruct.dedup.minhash import Utf8Texts, utf8_code_point

_LARGE = 8
_GAP = 1
_CONTEXT = 2
_ITEM = 12
_NEWLINE = 10
_EQUAL, _REPLACE, _INSERT, _DELETE = 0, 1, 2, 3
_TAG_OF_LETTER = np.zeros(128, dtype=np.int64)  # first letter of rapidfuzz's tag → _EQUAL, …
for _tag, _code in {"equal": _EQUAL, "replace": _REPLACE, "insert": _INSERT, "delete": _DELETE}.items():
    _TAG_OF_LETTER[ord(_tag[0])] = _code
_KANJI_NUMERAL = np.array(sorted(ord(ch) for ch in "〇一二三四五六七八九十百千万億"), dtype=np.uint32)
_COUNTER = np.array(sorted(ord(ch) for ch in "年月日時分秒人個本枚回歳円冊台匹番位度割倍件点つ"), dtype=np.uint32)
_SEPARATOR = np.array(sorted(ord(ch) for ch in ',.:;!?"()[]/・~\n'), dtype=np.uint32)
_LIST_SEPARATOR = np.array(sorted(ord(ch) for ch in ",・/;\n"), dtype=np.uint32)
_NEGATION_ONE = np.array(sorted(ord(ch) for ch in "不非無未"), dtype=np.uint32)
_NA, _I, _MA, _SE, _N, _KA, _SMALL_TSU = (ord(ch) for ch in "ないませんかっ")
_DOT = ord(".")


@lru_cache(maxsize=1)
def _unicode_digits() -> np.ndarray:
    """Code points for which str.isdigit() holds (edits._opens_item asks it of the character before
    "." of a numbering); sorted. Built once, when a batch is first judged."""
    return np.array([point for point in range(0x110000) if chr(point).isdigit()], dtype=np.uint32)


@lru_cache(maxsize=1)
def _person_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """edits.PERSON_LABEL as arrays: (first code point of each form, form offsets into the points,
    the forms' code points run together, referent number (0: no referent), per referent number
    whether it is a pronoun (edits.PRONOUNS)), forms ordered by first
    character, then longest first, so that the first match at a position is the longest (as
    edits._PERSON reads). Passed to the compiled code as arguments, not read as globals: numba's
    disk cache would keep a table compiled in after edits.py changed it."""
    forms = sorted(PERSON_LABEL, key=lambda form: (form[0], -len(form), form))
    referents = sorted({label for label in PERSON_LABEL.values() if label})
    number = {label: k + 1 for k, label in enumerate(referents)}
    offsets = np.zeros(len(forms) + 1, dtype=np.int64)
    np.cumsum([len(form) for form in forms], out=offsets[1:])
    points = np.array([ord(ch) for form in forms for ch in form], dtype=np.uint32)
    first = np.array([ord(form[0]) for form in forms], dtype=np.uint32)
    labels = np.array([number.get(PERSON_LABEL[form], 0) for form in forms], dtype=np.int64)
    pronoun = np.array([False] + [label in PRONOUNS for label in referents], dtype=np.bool_)
    return first, offsets, points, labels, pronoun


@numba.njit(inline="always")
def _member(table, point):
    """Is ``point`` in the sorted array ``table``?"""
    at = np.searchsorted(table, point)
    return at < table.size and table[at] == point


@numba.njit(inline="always")
def _ascii_digit(point):
    return 48 <= point <= 57


@numba.njit(inline="always")
def _sentence_end(point):
    return point == 46 or point == 33 or point == 63 or point == _NEWLINE  # . ! ? \n


@numba.njit(inline="always")
def _word_char(point):
    # edits._WORD_CHARS: kanji (CJK ext. A, unified, compatibility), 々, katakana ァ..ヺ, a-z
    return (0x3400 <= point <= 0x4DBF or 0x4E00 <= point <= 0x9FFF or 0xF900 <= point <= 0xFAFF
            or point == 0x3005 or 0x30A1 <= point <= 0x30FA or 97 <= point <= 122)


@numba.njit(nogil=True, cache=True)
def _digit_runs_differ(points, a0, a1, b0, b1):
    """edits._DIGITS.findall(a) != findall(b): the two sequences of ASCII digit runs differ."""
    i, j = a0, b0
    while True:
        while i < a1 and not _ascii_digit(points[i]):
            i += 1
        while j < b1 and not _ascii_digit(points[j]):
            j += 1
        if i == a1 or j == b1:
            return not (i == a1 and j == b1)
        while i < a1 and j < b1 and _ascii_digit(points[i]) and _ascii_digit(points[j]):
            if points[i] != points[j]:
                return True
            i += 1
            j += 1
        if (i < a1 and _ascii_digit(points[i])) or (j < b1 and _ascii_digit(points[j])):
            return True  # one run is longer


@numba.njit(inline="always")
def _is_boundary(points, start, position):
    """edits._SENTENCE_END: a split at ``position`` (after a sentence end, not after a list number)."""
    before = points[position - 1]
    if not _sentence_end(before):
        return False
    return not (before == _DOT and position - start >= 2 and _ascii_digit(points[position - 2]))


@numba.njit(nogil=True, cache=True)
def _pieces(points, start, stop, bounds):
    """The sentence pieces of points[start:stop] (re.split at edits._SENTENCE_END: the last piece
    is empty when the text ends with a sentence end) as bounds[k], bounds[k + 1]; returns the count."""
    count = 0
    bounds[0] = start
    for position in range(start + 1, stop + 1):
        if _is_boundary(points, start, position):
            count += 1
            bounds[count] = position
    count += 1
    bounds[count] = stop
    return count


@numba.njit(inline="always")
def _piece_hash(points, start, stop):
    h = np.uint64(1469598103934665603)
    for position in range(start, stop):
        h = (h ^ np.uint64(points[position])) * np.uint64(1099511628211)
    return h ^ np.uint64(stop - start)


@numba.njit(inline="always")
def _same(points, a0, a1, b0, b1):
    if a1 - a0 != b1 - b0:
        return False
    for offset in range(a1 - a0):  # noqa: SIM110 (a generator in all() does not compile in numba)
        if points[a0 + offset] != points[b0 + offset]:
            return False
    return True


@numba.njit(nogil=True, cache=True)
def _unshared(points, a0, a1, b0, b1, out, written):
    """edits._unshared of the unit points[a0:a1] / points[b0:b1]: the characters of the sentences
    both hold (as a multiset: the k-th copy of a sentence on one side pairs with the k-th on the
    other), and each side's other sentences in order, written to out[written:].
    Returns (shared, a's rest start, a's rest stop, b's rest start, b's rest stop)."""
    bounds_a = np.empty(a1 - a0 + 2, dtype=np.int64)
    bounds_b = np.empty(b1 - b0 + 2, dtype=np.int64)
    count_a = _pieces(points, a0, a1, bounds_a)
    count_b = _pieces(points, b0, b1, bounds_b)
    hash_a = np.empty(count_a, dtype=np.uint64)
    for k in range(count_a):
        hash_a[k] = _piece_hash(points, bounds_a[k], bounds_a[k + 1])
    hash_b = np.empty(count_b, dtype=np.uint64)
    for k in range(count_b):
        hash_b[k] = _piece_hash(points, bounds_b[k], bounds_b[k + 1])
    return _match_pieces(points, bounds_a, hash_a, 0, count_a, bounds_b, hash_b, 0, count_b, out, written)


@numba.njit(inline="always")
def _match_pieces(points, bounds_a, hash_a, first_a, count_a, bounds_b, hash_b, first_b, count_b, out, written):
    """_unshared from the pieces of each side (pieces k < count of a side: bounds[first + k],
    bounds[first + k + 1], hash hash[first + k]): each piece of a, in order, takes the first unused
    equal piece of b; then the rests of a and of b written to out[written:]."""
    used_a = np.zeros(count_a, dtype=np.bool_)
    used_b = np.zeros(count_b, dtype=np.bool_)
    shared = 0
    for p in range(count_a):
        start, stop = bounds_a[first_a + p], bounds_a[first_a + p + 1]
        h = hash_a[first_a + p]
        for q in range(count_b):
            if not used_b[q] and hash_b[first_b + q] == h and \
                    _same(points, start, stop, bounds_b[first_b + q], bounds_b[first_b + q + 1]):
                used_a[p] = used_b[q] = True
                shared += stop - start
                break
    rest_a = written
    for p in range(count_a):
        if not used_a[p]:
            for position in range(bounds_a[first_a + p], bounds_a[first_a + p + 1]):
                out[written] = points[position]
                written += 1
    rest_b = written
    for q in range(count_b):
        if not used_b[q]:
            for position in range(bounds_b[first_b + q], bounds_b[first_b + q + 1]):
                out[written] = points[position]
                written += 1
    return shared, rest_a, rest_b, rest_b, written


@numba.njit(inline="always")
def _unit_row(units, row, pair, fielded, length_a, length_b, written):
    """A unit's row of _prepare's ``units``, its rests empty at ``written``; returns the shorter length."""
    shorter = min(length_a, length_b)
    units[row, 0] = pair
    units[row, 1] = fielded
    units[row, 2] = shorter
    units[row, 9] = length_a
    units[row, 10] = length_b
    units[row, 11] = fielded and length_a == 0 and length_b == 0
    units[row, 5] = units[row, 6] = units[row, 7] = units[row, 8] = written
    return shorter


@numba.njit(nogil=True, cache=True)
def _field_ends(points, start, stop, ends):
    """Positions of the field separators in points[start:stop], then ``stop``; returns the field count."""
    count = 0
    for position in range(start, stop):
        if points[position] == _NEWLINE:
            ends[count] = position
            count += 1
    ends[count] = stop
    return count + 1


@numba.njit(nogil=True, cache=True)
def _prepare(points, offsets, left, right, numbers, unit_start, units, rest):
    """Fill ``units`` (one row per unit: 0 pair, 1 fielded, 2 shorter, 3 digit runs differ, 4 shared,
    5-8 rest a start/stop and rest b start/stop in ``rest``, 9-10 unit lengths, 11 both empty) and ``rest``
    (the rests one after another: the pages of ``rest`` a batch touches are those it fills; each pair
    starting at the sum of the key lengths before it had every page of room for both keys zeroed
    by the kernel)."""
    written = 0
    for pair in range(left.size):
        a0, a1 = offsets[left[pair]], offsets[left[pair] + 1]
        b0, b1 = offsets[right[pair]], offsets[right[pair] + 1]
        count = unit_start[pair + 1] - unit_start[pair]
        fielded = count > 1  # both keys hold the same number (> 1) of fields (_batch_verdicts)
        ends_a = np.empty(count + 1, dtype=np.int64)
        ends_b = np.empty(count + 1, dtype=np.int64)
        if fielded:
            _field_ends(points, a0, a1, ends_a)
            _field_ends(points, b0, b1, ends_b)
        else:
            ends_a[0], ends_b[0] = a1, b1
        start_a, start_b = a0, b0
        for field in range(count):
            row = unit_start[pair] + field
            stop_a, stop_b = ends_a[field], ends_b[field]
            shorter = _unit_row(units, row, pair, fielded, stop_a - start_a, stop_b - start_b, written)
            if shorter > 0:
                units[row, 3] = numbers and _digit_runs_differ(points, start_a, stop_a, start_b, stop_b)
                shared, ra0, ra1, rb0, written = _unshared(points, start_a, stop_a, start_b, stop_b, rest, written)
                units[row, 4] = shared
                units[row, 5], units[row, 6], units[row, 7], units[row, 8] = ra0, ra1, rb0, written
            start_a, start_b = stop_a + 1, stop_b + 1


@numba.njit(nogil=True, cache=True)
def _key_pieces(points, offsets, fields):
    """Per unit of every key (its ``fields`` fields, or the whole key when ``fields`` is 1): what
    _prepare computes of each side of each pair, computed once per key instead (a key takes part
    in several pairs): the sentence pieces (_pieces) with each piece's _piece_hash, and the digit
    runs (their count, and a hash of them: equal runs give equal hashes, so different hashes mean
    edits._DIGITS.findall differs), in one pass over the unit. Returns (span (units, 2): the unit's start
    and stop in points; first (units + 1): unit u's pieces are bounds[first[u] + k],
    bounds[first[u] + k + 1] with hash hashes[first[u] + k], k < first[u + 1] - first[u] - 1; bounds;
    hashes; digits (units, 2): the digit count and the digit-run hash)."""
    keys = offsets.size - 1
    units = keys * fields
    span = np.empty((units, 2), dtype=np.int64)
    ends = np.empty(fields + 1, dtype=np.int64)
    first = np.zeros(units + 1, dtype=np.int64)
    digits = np.empty((units, 2), dtype=np.uint64)
    # room for a piece per character and two bounds more per unit; only what is written is touched
    room = offsets[keys] - offsets[0] + 2 * units
    bounds = np.empty(room, dtype=np.int64)
    hashes = np.empty(room, dtype=np.uint64)
    basis, prime = np.uint64(1469598103934665603), np.uint64(1099511628211)
    for key in range(keys):
        a0, a1 = offsets[key], offsets[key + 1]
        if fields > 1:
            _field_ends(points, a0, a1, ends)
        else:
            ends[0] = a1
        start = a0
        for field in range(fields):
            unit = key * fields + field
            stop = ends[field]
            span[unit, 0], span[unit, 1] = start, stop
            at = first[unit]
            bounds[at] = start
            count = 0
            h = basis
            piece_start = start
            digit_hash = basis
            digit_count = 0
            in_run = False
            for position in range(start, stop):
                point = points[position]
                h = (h ^ np.uint64(point)) * prime
                if _ascii_digit(point):  # a run ends at a non-digit: 12,3 is not 1,23
                    digit_hash = (digit_hash ^ np.uint64(point)) * prime
                    digit_count += 1
                    in_run = True
                elif in_run:
                    digit_hash = (digit_hash ^ np.uint64(10)) * prime
                    in_run = False
                if _is_boundary(points, start, position + 1):  # _pieces: a piece ends after position
                    hashes[at + count] = h ^ np.uint64(position + 1 - piece_start)
                    count += 1
                    bounds[at + count] = position + 1
                    h = basis
                    piece_start = position + 1
            if in_run:
                digit_hash = (digit_hash ^ np.uint64(10)) * prime
            hashes[at + count] = h ^ np.uint64(stop - piece_start)  # the last piece (empty after an end)
            count += 1
            bounds[at + count] = stop
            first[unit + 1] = at + count + 1
            digits[unit, 0], digits[unit, 1] = digit_count, digit_hash
            start = stop + 1
    return span, first, bounds, hashes, digits


@numba.njit(nogil=True, cache=True)
def _prepare_pieces(points, pieces, fields, left, right, numbers, unit_start, units, rest):
    """_prepare for pairs of keys that all hold ``fields`` fields, from _key_pieces of the keys: the
    same units and rests (the same pieces and hashes, matched in the same order)."""
    span, first, bounds, hashes, digits = pieces
    fielded = fields > 1
    written = 0
    for pair in range(left.size):
        for field in range(fields):
            row = unit_start[pair] + field
            unit_a, unit_b = left[pair] * fields + field, right[pair] * fields + field
            start_a, stop_a = span[unit_a, 0], span[unit_a, 1]
            start_b, stop_b = span[unit_b, 0], span[unit_b, 1]
            shorter = _unit_row(units, row, pair, fielded, stop_a - start_a, stop_b - start_b, written)
            if shorter > 0:
                if not numbers or (digits[unit_a, 0] == 0 and digits[unit_b, 0] == 0):
                    differ = False
                elif digits[unit_a, 0] != digits[unit_b, 0] or digits[unit_a, 1] != digits[unit_b, 1]:
                    differ = True
                else:
                    differ = _digit_runs_differ(points, start_a, stop_a, start_b, stop_b)
                units[row, 3] = differ
                first_a, first_b = first[unit_a], first[unit_b]
                shared, rest_a, rest_b, _, written = _match_pieces(
                    points, bounds, hashes, first_a, first[unit_a + 1] - first_a - 1,
                    bounds, hashes, first_b, first[unit_b + 1] - first_b - 1, rest, written)
                units[row, 4] = shared
                units[row, 5], units[row, 6], units[row, 7], units[row, 8] = rest_a, rest_b, rest_b, written


@numba.njit(inline="always")
def _is_counter(point):
    return _member(_COUNTER, point)


@numba.njit(nogil=True, cache=True)
def _counted_same(text, a0, a1, i1, i2, other, b0, b1, j1, j2):
    """edits._counted(a, i1, i2) == edits._counted(b, j1, j2) (positions relative to each text's start)."""
    length_a, length_b = a1 - a0, b1 - b0
    while i1 > 0 and _member(_KANJI_NUMERAL, text[a0 + i1 - 1]):
        i1 -= 1
    while i2 < length_a and _member(_KANJI_NUMERAL, text[a0 + i2]):
        i2 += 1
    while j1 > 0 and _member(_KANJI_NUMERAL, other[b0 + j1 - 1]):
        j1 -= 1
    while j2 < length_b and _member(_KANJI_NUMERAL, other[b0 + j2]):
        j2 += 1
    numerals_a = np.empty(i2 - i1, dtype=np.uint32)
    numerals_b = np.empty(j2 - j1, dtype=np.uint32)
    count_a = count_b = 0
    for position in range(i1, i2):
        if _member(_KANJI_NUMERAL, text[a0 + position]):
            numerals_a[count_a] = text[a0 + position]
            count_a += 1
    for position in range(j1, j2):
        if _member(_KANJI_NUMERAL, other[b0 + position]):
            numerals_b[count_b] = other[b0 + position]
            count_b += 1
    if count_a and not (i2 < length_a and _is_counter(text[a0 + i2])):
        count_a = 0
    if count_b and not (j2 < length_b and _is_counter(other[b0 + j2])):
        count_b = 0
    if count_a != count_b:
        return False
    for k in range(count_a):  # noqa: SIM110 (a generator in all() does not compile in numba)
        if numerals_a[k] != numerals_b[k]:
            return False
    return True


@numba.njit(inline="always")
def _negations(text, start, stop):
    """len(edits._NEGATION.findall(text[start:stop])): ない|ません|なかっ|不|非|無|未, left to right."""
    count = 0
    position = start
    while position < stop:
        point = text[position]
        if point == _NA and position + 1 < stop and text[position + 1] == _I:
            count += 1
            position += 2
        elif position + 2 < stop and (
                (point == _MA and text[position + 1] == _SE and text[position + 2] == _N)
                or (point == _NA and text[position + 1] == _KA and text[position + 2] == _SMALL_TSU)):
            count += 1
            position += 3
        elif _member(_NEGATION_ONE, point):
            count += 1
            position += 1
        else:
            position += 1
    return count


@numba.njit(nogil=True, cache=True)
def _item_bounds(text, t0, t1, start, stop, digits):
    """edits._item(text, start, stop) as (item start, item stop) relative to t0; (0, 0) for ""."""
    begin = 0
    for position in range(start - 1, -1, -1):
        if _member(_SEPARATOR, text[t0 + position]):
            begin = position + 1
            break
    if begin == 0:
        return 0, 0
    before = text[t0 + begin - 1]
    if not (_member(_LIST_SEPARATOR, before)
            or (before == _DOT and begin > 1 and _member(digits, text[t0 + begin - 2]))):
        return 0, 0
    end = t1 - t0
    for position in range(stop, t1 - t0):
        point = text[t0 + position]
        if _member(_LIST_SEPARATOR, point) or _ascii_digit(point):
            end = position
            break
    return begin, end


@numba.njit(nogil=True, cache=True)
def _indel_similarity(text, a0, a1, b0, b1):
    """rapidfuzz Indel.normalized_similarity: 1 − (|a| + |b| − 2·LCS) / (|a| + |b|)."""
    length_a, length_b = a1 - a0, b1 - b0
    row = np.zeros(length_b + 1, dtype=np.int64)
    for i in range(length_a):
        diagonal = 0
        for j in range(length_b):
            above = row[j + 1]
            if text[a0 + i] == text[b0 + j]:
                row[j + 1] = diagonal + 1
            elif row[j] > above:
                row[j + 1] = row[j]
            diagonal = above
    total = length_a + length_b
    if total == 0:
        return 1.0
    return 1.0 - (total - 2 * row[length_b]) / total


@numba.njit(nogil=True, cache=True)
def _persons(text, t0, t1, start, stop, person, counts, within):
    """edits._persons of the edit text[t0 + start:t0 + stop] (positions relative to t0, the text ending
    at t1): per referent number, how many person words in the window (``counts``) and whether one lies
    wholly within the edit (``within``); ``person``: _person_tables()."""
    first, offsets, points, labels, _ = person
    context = np.max(offsets[1:] - offsets[:-1]) - 1  # edits._PERSON_CONTEXT: the longest form less one
    position = t0 + max(start - context, 0)
    end = min(t0 + stop + context, t1)
    while position < end:
        at = np.searchsorted(first, text[position])
        matched = 0
        while at < first.size and first[at] == text[position]:
            size = offsets[at + 1] - offsets[at]
            if position + size <= end:
                same = True
                for offset in range(1, size):
                    if text[position + offset] != points[offsets[at] + offset]:
                        same = False
                        break
                if same:
                    matched = size
                    label = labels[at]
                    if label:
                        counts[label] += 1
                        if t0 + start <= position and position + size <= t0 + stop:
                            within[label] = True
                    break
            at += 1
        position += matched if matched else 1


@numba.njit(nogil=True, cache=True)
def _person_changed(rest, a0, a1, b0, b1, i1, i2, j1, j2, person):
    """edits._person_changed(edits._persons(a, i1, i2), edits._persons(b, j1, j2))."""
    referents = person[3].max() + 1
    counts_a = np.zeros(referents, dtype=np.int64)
    counts_b = np.zeros(referents, dtype=np.int64)
    within_a = np.zeros(referents, dtype=np.bool_)
    within_b = np.zeros(referents, dtype=np.bool_)
    _persons(rest, a0, a1, i1, i2, person, counts_a, within_a)
    _persons(rest, b0, b1, j1, j2, person, counts_b, within_b)
    pronoun = person[4]
    only_a = only_b = False
    for label in range(1, referents):
        if counts_a[label] > counts_b[label]:
            only_a = True
            if within_a[label] and not pronoun[label]:
                return True
        elif counts_b[label] > counts_a[label]:
            only_b = True
            if within_b[label] and not pronoun[label]:
                return True
    return only_a and only_b


@numba.njit(nogil=True, cache=True)
def _guard(rest, a0, a1, b0, b1, i1, i2, j1, j2, digits, numbers, unicode_digits, person):
    """edits._guard of the small edit a[i1:i2] → b[j1:j2] of the rests rest[a0:a1], rest[b0:b1]."""
    if digits:
        for position in range(i1, i2):
            if _ascii_digit(rest[a0 + position]):
                return NUMBER
        for position in range(j1, j2):
            if _ascii_digit(rest[b0 + position]):
                return NUMBER
    if numbers and not _counted_same(rest, a0, a1, i1, i2, rest, b0, b1, j1, j2):
        return NUMBER
    if i2 - i1 == j2 - j1:
        old = np.sort(rest[a0 + i1:a0 + i2])
        new = np.sort(rest[b0 + j1:b0 + j2])
        swapped = True
        for k in range(old.size):
            if old[k] != new[k]:
                swapped = False
                break
        if swapped:
            return ACCEPTED
    length_a, length_b = a1 - a0, b1 - b0
    if _negations(rest, a0 + max(i1 - _CONTEXT, 0), a0 + min(i2 + _CONTEXT, length_a)) != \
            _negations(rest, b0 + max(j1 - _CONTEXT, 0), b0 + min(j2 + _CONTEXT, length_b)):
        return NEGATION
    if _person_changed(rest, a0, a1, b0, b1, i1, i2, j1, j2, person):
        return PERSON
    word_old = word_new = 0
    for position in range(i1, i2):
        word_old += _word_char(rest[a0 + position])
    for position in range(j1, j2):
        word_new += _word_char(rest[b0 + position])
    if min(word_old, word_new) >= 1 and max(word_old, word_new) >= 2:
        return KANJI_WORD
    item_a0, item_a1 = _item_bounds(rest, a0, a1, i1, i2, unicode_digits)
    item_b0, item_b1 = _item_bounds(rest, b0, b1, j1, j2, unicode_digits)
    if item_a1 > item_a0 and item_b1 > item_b0 and max(item_a1 - item_a0, item_b1 - item_b0) <= _ITEM \
            and _indel_similarity(rest, a0 + item_a0, a0 + item_a1, b0 + item_b0, b0 + item_b1) < 0.5:
        return ITEM
    return ACCEPTED


@numba.njit(inline="always")
def _sentences_at(rest, t0, length, start, stop):
    return (start == 0 or _sentence_end(rest[t0 + start - 1])) and \
        (stop == length or _sentence_end(rest[t0 + stop - 1]))


@numba.njit(inline="always")
def _whole_sentences(rest, t0, length, start, stop):
    return start == stop or stop == length or _sentence_end(rest[t0 + stop - 1])


@numba.njit(inline="always")
def _contains(rest, h0, h1, n0, n1):
    """Does rest[h0:h1] hold rest[n0:n1] as a substring?"""
    size = n1 - n0
    for start in range(h0, h1 - size + 1):
        if _same(rest, start, start + size, n0, n1):
            return True
    return size == 0


@numba.njit(nogil=True, cache=True)
def _unit_verdict(rest, unit, ops, first, last, share, numbers, unicode_digits, person):
    """edits._key_verdict's loop over the opcodes ops[first:last] of one unit; (verdict, measured)."""
    shorter, digits, shared = unit[2], unit[3] == 1, unit[4]
    if shorter == 0:
        if unit[9] == unit[10] and unit[9] == 0:
            return ACCEPTED, 1.0
        return TOO_DIFFERENT, 0.0
    a0, a1, b0, b1 = unit[5], unit[6], unit[7], unit[8]
    length_a, length_b = a1 - a0, b1 - b0
    # edits._edits: small edits at most _GAP equal characters apart joined into one. Only the last two
    # joined entries can still take in what follows, so each entry before them is judged as soon as it
    # is final (as edits._edits hands them out): a pair refused at an early edit is not joined further
    joined = np.empty((max(last - first, 1), 5), dtype=np.int64)
    count = judged = 0
    changed_a = changed_b = 0
    for k in range(first, last + 2):
        if k < last:
            tag, i1, i2, j1, j2 = ops[k, 0], ops[k, 1], ops[k, 2], ops[k, 3], ops[k, 4]
            if tag != _EQUAL and count > 0 and max(i2 - i1, j2 - j1) < _LARGE:
                edit = -1
                if joined[count - 1, 0] != _EQUAL:
                    edit = count - 1
                elif count > 1 and joined[count - 1, 2] - joined[count - 1, 1] <= _GAP:
                    edit = count - 2
                if edit >= judged and joined[edit, 0] != _EQUAL and \
                        max(joined[edit, 2] - joined[edit, 1], joined[edit, 4] - joined[edit, 3]) < _LARGE and \
                        max(i2 - joined[edit, 1], j2 - joined[edit, 3]) < _LARGE:
                    if edit != count - 1:
                        count -= 1
                    joined[edit, 0] = _REPLACE
                    joined[edit, 2] = i2
                    joined[edit, 4] = j2
                    continue
            joined[count, 0], joined[count, 1], joined[count, 2], joined[count, 3], joined[count, 4] = \
                tag, i1, i2, j1, j2
            count += 1
            final = count - 2  # entries before the last two are final
        else:
            final = count  # the opcodes are done: every entry is final
        while judged < final:
            tag, i1, i2, j1, j2 = joined[judged, 0], joined[judged, 1], joined[judged, 2], joined[judged, 3], \
                joined[judged, 4]
            judged += 1
            if tag == _EQUAL:
                shared += i2 - i1
            elif (tag == _DELETE and _sentences_at(rest, a0, length_a, i1, i2)) or \
                    (tag == _INSERT and _sentences_at(rest, b0, length_b, j1, j2)):
                continue
            elif i2 - i1 >= _LARGE or j2 - j1 >= _LARGE:
                if (tag == _DELETE and _contains(rest, b0, b1, a0 + i1, a0 + i2)) or \
                        (tag == _INSERT and _contains(rest, a0, a1, b0 + j1, b0 + j2)):
                    shared += max(i2 - i1, j2 - j1)
                elif not (_whole_sentences(rest, a0, length_a, i1, i2) and
                          _whole_sentences(rest, b0, length_b, j1, j2)):
                    changed_a += i2 - i1
                    changed_b += j2 - j1
            else:
                verdict = _guard(rest, a0, a1, b0, b1, i1, i2, j1, j2, digits, numbers, unicode_digits, person)
                if verdict != ACCEPTED:
                    return verdict, shared / shorter
                changed_a += i2 - i1
                changed_b += j2 - j1
        if k >= last:
            break
    measured = min(shared / max(shared + max(changed_a, changed_b), 1), 1.0)
    return (ACCEPTED if measured >= share else TOO_DIFFERENT), measured


# rapidfuzz aligns long, very different texts with Hirschberg's algorithm, whose split points choose
# other alignments among equal-cost ones: such units (rare) keep rapidfuzz itself (_reference_units)
_HIRSCHBERG_CELLS = 4_194_304  # len1·len2 from which rapidfuzz 3.x switches, after the common affix


@numba.njit(inline="always")
def _affix(text, a0, a1, b0, b1):
    """(common prefix length, common suffix length) of text[a0:a1] and text[b0:b1], as rapidfuzz
    removes them before aligning (the suffix within what the prefix leaves)."""
    prefix = 0
    while a0 + prefix < a1 and b0 + prefix < b1 and text[a0 + prefix] == text[b0 + prefix]:
        prefix += 1
    suffix = 0
    while a1 - suffix > a0 + prefix and b1 - suffix > b0 + prefix and text[a1 - 1 - suffix] == text[b1 - 1 - suffix]:
        suffix += 1
    return prefix, suffix


@numba.njit(inline="always")
def _hirschberg(length_a, length_b):
    return length_a >= 65 and length_b >= 10 and length_a * length_b >= _HIRSCHBERG_CELLS


@numba.njit(nogil=True, cache=True)
def _opcodes(text, a0, a1, b0, b1, out):
    """Levenshtein.opcodes(text[a0:a1], text[b0:b1]) of rapidfuzz 3.x, written to ``out`` (rows of
    tag, i1, i2, j1, j2; at least 2·(|a| + |b|) + 1 rows); returns the row count.

    The same steps as rapidfuzz (read in rapidfuzz-cpp, Levenshtein_impl.hpp, and rewritten here):
    the common prefix and suffix set aside; Hyyrö's bit-parallel recurrence (2003) over 64-bit words
    of the first text, one row per character of the second, recording each row's vertical deltas
    (VP: +1, VN: −1); the edit operations recovered from the last cell back, preferring a deletion
    where the delta to the left is +1, then an insertion where the row above has −1 there, else the
    diagonal (a replacement when the characters differ); then runs of one kind of operation joined
    into opcodes with the equal stretches between them. Among alignments of equal cost this picks
    the one rapidfuzz picks, which the verdicts depend on (tests/dedup/test_aligned.py compares the
    opcodes with rapidfuzz's on generated pairs). Not for units _hirschberg() selects."""
    length_a, length_b = a1 - a0, b1 - b0
    prefix, suffix = _affix(text, a0, a1, b0, b1)
    s1, n1 = a0 + prefix, length_a - prefix - suffix
    s2, n2 = b0 + prefix, length_b - prefix - suffix
    kinds = np.empty(max(n1 + n2, 1), dtype=np.int64)
    sources = np.empty(max(n1 + n2, 1), dtype=np.int64)
    targets = np.empty(max(n1 + n2, 1), dtype=np.int64)
    col, row = n1, n2
    if n1 > 0 and n2 > 0:
        words = (n1 + 63) // 64
        # the characters of the first text (an open-addressing table: slot → character, its letter
        # number) with their position bits per word; a sort or a binary search per row cost more
        # than the recurrence itself
        size = 16
        while size < 2 * n1:
            size *= 2
        slot_point = np.empty(size, dtype=np.uint32)
        slot_letter = np.full(size, -1, dtype=np.int64)
        masks = np.zeros((n1, words), dtype=np.uint64)
        letters = 0
        for position in range(n1):
            point = text[s1 + position]
            slot = (point * 2654435761) & (size - 1)
            while slot_letter[slot] >= 0 and slot_point[slot] != point:
                slot = (slot + 1) & (size - 1)
            if slot_letter[slot] < 0:
                slot_point[slot] = point
                slot_letter[slot] = letters
                letters += 1
            masks[slot_letter[slot], position >> 6] |= np.uint64(1) << np.uint64(position & 63)
        vp = np.empty((n2, words), dtype=np.uint64)
        vn = np.empty((n2, words), dtype=np.uint64)
        up = np.full(words, ~np.uint64(0), dtype=np.uint64)
        un = np.zeros(words, dtype=np.uint64)
        one = np.uint64(1)
        shift = np.uint64(63)
        for i in range(n2):
            point = text[s2 + i]
            slot = (point * 2654435761) & (size - 1)
            while slot_letter[slot] >= 0 and slot_point[slot] != point:
                slot = (slot + 1) & (size - 1)
            letter = slot_letter[slot]
            known = letter >= 0
            hp_carry = one
            hn_carry = np.uint64(0)
            for word in range(words):
                match = masks[letter, word] if known else np.uint64(0)
                x = match | hn_carry
                d0 = (((x & up[word]) + up[word]) ^ up[word]) | x | un[word]
                hp = un[word] | ~(d0 | up[word])
                hn = d0 & up[word]
                hp_out, hn_out = hp >> shift, hn >> shift
                hp = (hp << one) | hp_carry
                hn = (hn << one) | hn_carry
                hp_carry, hn_carry = hp_out, hn_out
                up[word] = hn | ~(d0 | hp)
                un[word] = hp & d0
                vp[i, word] = up[word]
                vn[i, word] = un[word]
        count = 0
        while row and col:
            bit = np.uint64((col - 1) & 63)
            if (vp[row - 1, (col - 1) >> 6] >> bit) & one:
                col -= 1
                kinds[count], sources[count], targets[count] = _DELETE, col, row
                count += 1
            else:
                row -= 1
                if row and (vn[row - 1, (col - 1) >> 6] >> bit) & one:
                    kinds[count], sources[count], targets[count] = _INSERT, col, row
                    count += 1
                else:
                    col -= 1
                    if text[s1 + col] != text[s2 + row]:
                        kinds[count], sources[count], targets[count] = _REPLACE, col, row
                        count += 1
    else:
        count = 0
    while col:
        col -= 1
        kinds[count], sources[count], targets[count] = _DELETE, col, row
        count += 1
    while row:
        row -= 1
        kinds[count], sources[count], targets[count] = _INSERT, col, row
        count += 1
    # the operations were recovered last first; positions in the whole texts
    rows = 0
    source = target = 0
    k = count - 1
    while k >= 0:
        kind, at_source, at_target = kinds[k], sources[k] + prefix, targets[k] + prefix
        if source < at_source or target < at_target:
            out[rows, 0], out[rows, 1], out[rows, 2], out[rows, 3], out[rows, 4] = \
                _EQUAL, source, at_source, target, at_target
            rows += 1
            source, target = at_source, at_target
        begin_source, begin_target = source, target
        while True:
            if kind == _REPLACE:
                source += 1
                target += 1
            elif kind == _INSERT:
                target += 1
            else:
                source += 1
            k -= 1
            if not (k >= 0 and kinds[k] == kind and sources[k] + prefix == source and targets[k] + prefix == target):
                break
        out[rows, 0], out[rows, 1], out[rows, 2], out[rows, 3], out[rows, 4] = \
            kind, begin_source, source, begin_target, target
        rows += 1
    if source < length_a or target < length_b:
        out[rows, 0], out[rows, 1], out[rows, 2], out[rows, 3], out[rows, 4] = \
            _EQUAL, source, length_a, target, length_b
        rows += 1
    return rows


def levenshtein_opcodes(a: str, b: str) -> list[tuple[str, int, int, int, int]]:
    """_opcodes of two strings as rapidfuzz's Opcodes.as_list() gives them (for tests and benchmarks)."""
    points, offsets = code_points([a, b])
    if _hirschberg(*[length - sum(_affix(points, 0, offsets[1], offsets[1], offsets[2]))
                     for length in (len(a), len(b))]):
        return Levenshtein.opcodes(a, b).as_list()
    out = np.empty((2 * (len(a) + len(b)) + 1, 5), dtype=np.int64)
    rows = _opcodes(points, 0, offsets[1], offsets[1], offsets[2], out)
    names = {_EQUAL: "equal", _REPLACE: "replace", _INSERT: "insert", _DELETE: "delete"}
    return [(names[int(tag)], int(i1), int(i2), int(j1), int(j2)) for tag, i1, i2, j1, j2 in out[:rows].tolist()]


@numba.njit(nogil=True, cache=True)
def _hirschberg_units(rest, units):
    """Per unit: are its rests aligned by rapidfuzz with Hirschberg's algorithm (_HIRSCHBERG_CELLS)?
    Those few keep rapidfuzz's own opcodes (_batch_verdicts)."""
    found = np.zeros(units.shape[0], dtype=np.bool_)
    for row in range(units.shape[0]):
        a0, a1, b0, b1 = units[row, 5], units[row, 6], units[row, 7], units[row, 8]
        if units[row, 2] > 0 and (a1 > a0 or b1 > b0):
            prefix, suffix = _affix(rest, a0, a1, b0, b1)
            found[row] = _hirschberg(a1 - a0 - prefix - suffix, b1 - b0 - prefix - suffix)
    return found


@numba.njit(nogil=True, cache=True)
def _judge(rest, units, ops, op_start, hirschberg, unit_start, key_lengths, share, field_share, numbers,
           unicode_digits, person, verdicts, measured):
    """Per pair: edits.edit_verdict from its units' verdicts (fields: each accepted at field_share,
    then the shared characters over the shorter key's, less the separators). Each unit's opcodes are
    _opcodes of its rests, or for units ``hirschberg`` marks, rapidfuzz's in ops[op_start[row]:…]."""
    own = np.empty((0, 5), dtype=np.int64)
    for pair in range(unit_start.size - 1):
        first, stop = unit_start[pair], unit_start[pair + 1]
        shared = 0.0
        verdict = ACCEPTED
        for row in range(first, stop):
            if units[row, 1] == 1 and units[row, 11] == 1:  # both fields empty
                continue
            a0, a1, b0, b1 = units[row, 5], units[row, 6], units[row, 7], units[row, 8]
            unit_share = field_share if units[row, 1] == 1 else share
            if hirschberg[row]:
                unit_verdict, unit_measured = _unit_verdict(rest, units[row], ops, op_start[row], op_start[row + 1],
                                                            unit_share, numbers, unicode_digits, person)
            else:
                need = 2 * (a1 - a0 + b1 - b0) + 1  # room for _opcodes: one buffer, grown when too small
                if own.shape[0] < need:
                    own = np.empty((max(need, 2 * own.shape[0]), 5), dtype=np.int64)
                count = _opcodes(rest, a0, a1, b0, b1, own) if units[row, 2] > 0 and (a1 > a0 or b1 > b0) else 0
                unit_verdict, unit_measured = _unit_verdict(rest, units[row], own, 0, count, unit_share, numbers,
                                                            unicode_digits, person)
            if units[row, 1] == 0:  # the whole keys: one unit
                verdict, measured[pair] = unit_verdict, unit_measured
                break
            if unit_verdict != ACCEPTED:
                verdict = unit_verdict
                measured[pair] = unit_measured
                break
            shared += unit_measured * min(units[row, 9], units[row, 10])
        if units[first, 1] == 0 or verdict != ACCEPTED:
            verdicts[pair] = verdict
            continue
        fields = stop - first
        total = min(shared / max(min(key_lengths[pair, 0], key_lengths[pair, 1]) - fields + 1, 1), 1.0)
        measured[pair] = total
        verdicts[pair] = ACCEPTED if total >= share else TOO_DIFFERENT


def code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-32 code points of the texts run together, offsets: text k is points[offsets[k]:offsets[k + 1]])."""
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(text) for text in texts], out=offsets[1:])
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    return points, offsets


@numba.njit(nogil=True, cache=True)
def _decoded_rows(offsets, data, rows):
    """The code points of texts ``rows`` of a UTF-8 column (Arrow offsets and bytes, valid UTF-8) run
    together, and their offsets, as code_points gives them for the same texts as str; and the fields
    of each (FIELD_SEPARATOR newlines + 1). One pass, into room for one code point per byte (pages
    never written are never touched)."""
    total = 0
    for k in range(rows.size):
        total += offsets[rows[k] + 1] - offsets[rows[k]]
    points = np.empty(total, dtype=np.uint32)
    starts = np.zeros(rows.size + 1, dtype=np.int64)
    fields = np.ones(rows.size, dtype=np.int64)
    written = 0
    for k in range(rows.size):
        position, stop = offsets[rows[k]], offsets[rows[k] + 1]
        while position < stop:
            lead = np.uint32(data[position])
            if lead < 0x80:
                points[written] = lead
                fields[k] += lead == _NEWLINE
                position += 1
            elif lead >= 0xE0 and lead < 0xF0:  # kana and kanji: three bytes
                points[written] = ((lead & 0x0F) << 12) | ((np.uint32(data[position + 1]) & 0x3F) << 6) \
                    | (np.uint32(data[position + 2]) & 0x3F)
                position += 3
            else:
                point, width = utf8_code_point(data, position)
                points[written] = point
                position += width
            written += 1
        starts[k + 1] = written
    return points[:written], starts, fields


@numba.njit(nogil=True, cache=True)
def _folded_rows(offsets, data, rows, table, check):
    """_decoded_rows of the canonical keys of ``rows``, made here from their fields (offsets (fields ×
    texts + 1) index ``data``) as keys.folded_join(fields, FIELD_SEPARATOR) makes them: each field
    decoded, folded by ``table`` (-1 drops a character) and the fields joined by FIELD_SEPARATOR;
    then a fourth array: with ``check``, the rows holding a character outside the BMP or one the
    table marks -2 (keys._FUSED_OR_UNSAFE: it needs a real NFKC), left empty. Canonical fields hold
    no whitespace, so every key has as many fields as there are columns."""
    field_count = offsets.shape[0]
    total = 0
    for k in range(rows.size):
        for field in range(field_count):
            total += offsets[field, rows[k] + 1] - offsets[field, rows[k]]
    points = np.empty(total + rows.size * (field_count - 1), dtype=np.uint32)
    starts = np.zeros(rows.size + 1, dtype=np.int64)
    fields = np.full(rows.size, field_count, dtype=np.int64)
    unsafe = np.zeros(rows.size, dtype=np.bool_)
    no_bytes = np.empty(0, dtype=np.uint8)
    written = 0
    for k in range(rows.size):
        for field in range(field_count):
            if field:
                points[written] = _NEWLINE
                written += 1
            _, written, flagged = _fold_text(data, offsets[field, rows[k]], offsets[field, rows[k] + 1], table, check,
                                             no_bytes, 0, points, written, True, False)
            if flagged:
                unsafe[k] = True
                written = starts[k]
                break
        starts[k + 1] = written
    return points[:written], starts, fields, unsafe


@dataclass
class FieldTexts:
    """The key fields of some records before their canonical form (run.py passes these to
    ``verdicts``): each batch folds the keys it judges while decoding them (``_folded_rows``), so
    no canonical key is written out as UTF-8 and read back, and the folding runs on the batches'
    threads. The same code points as decoding keys.folded_join(fields, FIELD_SEPARATOR): the few
    rows the fold table cannot NFKC are NFKC'd by polars and folded again, as there
    (tests/dedup/test_aligned.py compares the two)."""
    columns: list[pl.Series]  # the key fields, strings
    offsets: np.ndarray       # (fields, texts + 1) int64 into data
    data: np.ndarray          # uint8: the fields' UTF-8

    @classmethod
    def from_columns(cls, columns: list[pl.Series]) -> FieldTexts:
        columns = [column.cast(pl.String).fill_null("").rechunk() for column in columns]
        return cls(columns, *_stacked(columns))

    def __len__(self) -> int:
        return self.offsets.shape[1] - 1

    def decoded(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """_decoded_rows of the canonical keys of ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        points, starts, fields, unsafe = _folded_rows(self.offsets, self.data, rows, _FUSED_OR_UNSAFE, True)
        redo = np.flatnonzero(unsafe)
        if redo.size:  # polars' NFKC, then the fold (as keys.folded_join does for these rows)
            index = pl.Series(rows[redo])
            offsets, data = _stacked([column.gather(index).str.normalize("NFKC") for column in self.columns])
            done, done_starts, _, _ = _folded_rows(offsets, data, np.arange(redo.size), _FUSED, False)
            points, starts = _spliced(points, starts, redo, done, done_starts)
        return points, starts, fields

    def to_list(self) -> list[str]:
        """The canonical keys as strings (for tests and benchmarks)."""
        points, starts, _ = self.decoded(np.arange(len(self)))
        return [points[starts[k]:starts[k + 1]].tobytes().decode("utf-32-le") for k in range(len(self))]


def _spliced(points: np.ndarray, starts: np.ndarray, rows: np.ndarray, their_points: np.ndarray,
             their_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``points`` (texts ``starts``) with the empty texts ``rows`` (ascending) replaced by the texts of
    ``their_points`` (``their_starts``), in order."""
    lengths = np.diff(starts)
    lengths[rows] = np.diff(their_starts)
    new_starts = np.zeros_like(starts)
    np.cumsum(lengths, out=new_starts[1:])
    out = np.empty(int(new_starts[-1]), dtype=points.dtype)
    previous = 0  # the texts previous..row - 1 are kept, contiguous in points
    for k, row in enumerate(rows.tolist()):
        out[new_starts[previous]:new_starts[row]] = points[starts[previous]:starts[row]]
        out[new_starts[row]:new_starts[row + 1]] = their_points[their_starts[k]:their_starts[k + 1]]
        previous = row + 1
    out[new_starts[previous]:] = points[starts[previous]:]
    return out, new_starts


def key_texts(keys: list[str] | pl.Series | Utf8Texts | FieldTexts) -> Utf8Texts | FieldTexts:
    """Keys as one UTF-8 buffer with offsets (a polars column's own Arrow buffers, no copy), or as
    FieldTexts: the batches decode only the keys they judge, and no Python string per key is made
    or shared."""
    if isinstance(keys, Utf8Texts | FieldTexts):
        return keys
    return Utf8Texts.from_series(keys) if isinstance(keys, pl.Series) else Utf8Texts.from_strings(keys)


def _op_array(ops: list[tuple[str, int, int, int, int]]) -> np.ndarray:
    """rapidfuzz's opcode tuples as an (n, 5) int64 array, tag first (_EQUAL, …): column by column,
    not tuple by tuple (a Python step per opcode cost as much as the alignment). The tags differ
    in their first letter."""
    array = np.empty((len(ops), 5), dtype=np.int64)
    if ops:
        flat = list(chain.from_iterable(ops))
        letters = np.array(flat[0::5], dtype="U1").view(np.uint32)
        array[:, 0] = _TAG_OF_LETTER[letters]
        for column in range(1, 5):
            array[:, column] = flat[column::5]
    return array


# pairs judged per batch: room for the rests of its pairs (4 bytes a character, both keys of every
# pair) stays ~70 MB on 1.3 KB records instead of growing with the build
_BATCH_PAIRS = 16_384
# the keys of all pairs are decoded once, before the batches, when they hold at most this many
# code points (4 bytes each: 768 MB); beyond that each batch decodes its own keys. A key takes
# part in several pairs, which land in different batches: on the template-heavy 500k bench
# corpus (599k pairs over 315k keys) the batches decoded 760k keys, 2.4 times each key
_DECODED_POINTS = 192 * 2**20


def verdicts(keys: list[str] | pl.Series | Utf8Texts | FieldTexts, left: list[int] | np.ndarray,
             right: list[int] | np.ndarray, share: float, numbers: bool = True, field_share: float = 0.0,
             rapidfuzz: bool = False, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(verdict code, measured share) of edits.edit_verdict(keys[left[i]], keys[right[i]], …) for every i,
    judged ``_BATCH_PAIRS`` pairs at a time (each pair on its own, so batching changes nothing), the
    batches on ``n_jobs`` threads: the compiled steps release the GIL, so threads share the cores
    without forking processes or copying keys to them.
    ``rapidfuzz``: align every unit with rapidfuzz itself, as edit_verdict does (the reference that
    tests and bench/dedup_verify.py compare the compiled alignment with)."""
    texts = key_texts(keys)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    found = np.empty(left.size, dtype=np.int8)
    measured = np.zeros(left.size, dtype=np.float64)
    decoded = _decoded_once(texts, left, right)

    # at most _BATCH_PAIRS a batch, and a multiple of n_jobs batches of equal size, so that the
    # threads finish together (3 batches on 2 threads would leave one idle for a third of the time)
    batches = -(-left.size // _BATCH_PAIRS)
    if n_jobs > 1:
        batches = -(-batches // n_jobs) * n_jobs
    size = max(-(-left.size // max(batches, 1)), 1)

    def judge(start: int) -> None:
        stop = min(start + size, left.size)
        found[start:stop], measured[start:stop] = _batch_verdicts(texts, left[start:stop], right[start:stop], share,
                                                                  numbers, field_share, rapidfuzz, decoded)
    starts = range(0, left.size, size)
    if n_jobs > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            list(pool.map(judge, starts))
    else:
        for start in starts:
            judge(start)
    return found, measured


# rows, _decoded_rows of them, and when they all hold one number of fields, that number and
# _key_pieces of them (else 0, None)
Decoded = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, tuple | None]


def _decoded(texts: Utf8Texts | FieldTexts, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_decoded_rows of the keys ``rows`` (ascending): FieldTexts fold their fields into keys."""
    if isinstance(texts, FieldTexts):
        return texts.decoded(rows)
    return _decoded_rows(texts.offsets, texts.data, rows)


def _decoded_once(texts: Utf8Texts | FieldTexts, left: np.ndarray, right: np.ndarray) -> Decoded | None:
    """The keys of all pairs decoded once (``Decoded``); None when they would hold more than
    _DECODED_POINTS code points (each batch then decodes its own keys). The same code points either
    way: a key is decoded on its own, whichever rows are decoded with it."""
    if left.size == 0:
        return None
    rows = sorted_unique(np.concatenate([left, right]))
    if isinstance(texts, FieldTexts):
        size = sum(_point_count(texts.offsets[field], texts.data, rows) for field in range(texts.offsets.shape[0]))
    else:
        size = _point_count(texts.offsets, texts.data, rows)
    if size > _DECODED_POINTS:
        return None
    return _with_pieces(rows, *_decoded(texts, rows))


def _with_pieces(rows: np.ndarray, points: np.ndarray, offsets: np.ndarray, fields: np.ndarray) -> Decoded:
    """Decoded keys with their _key_pieces when they all hold one number of fields (always, for the
    keys FieldTexts makes: as many fields as columns); else _prepare splits each pair's keys."""
    if fields.size and fields.min() == fields.max():
        count = int(fields[0])
        return rows, points, offsets, fields, count, _key_pieces(points, offsets, count)
    return rows, points, offsets, fields, 0, None


@numba.njit(nogil=True, cache=True)
def _point_count(offsets, data, rows):
    """Code points of texts ``rows`` of a UTF-8 column (bytes that do not continue a character)."""
    count = 0
    for k in range(rows.size):
        for position in range(offsets[rows[k]], offsets[rows[k] + 1]):
            count += (data[position] & 0xC0) != 0x80
    return count


def _batch_verdicts(texts: Utf8Texts | FieldTexts, left: np.ndarray, right: np.ndarray, share: float, numbers: bool,
                    field_share: float, rapidfuzz: bool = False,
                    decoded: Decoded | None = None) -> tuple[np.ndarray, np.ndarray]:
    if decoded is None:
        involved = sorted_unique(np.concatenate([left, right]))
        decoded = _with_pieces(involved, *_decoded(texts, involved))
    involved, points, offsets, fields, field_count, pieces = decoded
    left, right = np.searchsorted(involved, left), np.searchsorted(involved, right)
    # units per pair: its fields when both keys hold the same number of fields and one more than
    # one, else the whole keys; room for the rests: both keys
    fields_a, fields_b = fields[left], fields[right]
    unit_counts = np.where(((fields_a > 1) | (fields_b > 1)) & (fields_a == fields_b), fields_a, 1)
    rest_counts = offsets[left + 1] - offsets[left] + offsets[right + 1] - offsets[right]
    unit_start = np.zeros(left.size + 1, dtype=np.int64)
    np.cumsum(unit_counts, out=unit_start[1:])
    units = np.zeros((int(unit_start[-1]), 12), dtype=np.int64)
    rest = np.empty(max(int(rest_counts.sum()), 1), dtype=np.uint32)
    if pieces is None:
        _prepare(points, offsets, left, right, numbers, unit_start, units, rest)
    else:
        _prepare_pieces(points, pieces, field_count, left, right, numbers, unit_start, units, rest)
    # the alignment of what is left of each unit: compiled (_opcodes), except for the rare units that
    # rapidfuzz aligns with Hirschberg's algorithm, which keep rapidfuzz's opcodes
    hirschberg = np.ones(units.shape[0], dtype=np.bool_) if rapidfuzz else _hirschberg_units(rest, units)
    ops: list[tuple[str, int, int, int, int]] = []
    op_start = np.zeros(units.shape[0] + 1, dtype=np.int64)
    for row in np.flatnonzero(hirschberg).tolist():
        shorter, a0, a1, b0, b1 = units[row, [2, 5, 6, 7, 8]].tolist()
        op_start[row] = len(ops)
        if shorter > 0 and (a1 > a0 or b1 > b0):  # nothing left on either side: no opcodes
            ops.extend(Levenshtein.opcodes(rest[a0:a1].tobytes().decode("utf-32-le"),
                                           rest[b0:b1].tobytes().decode("utf-32-le")).as_list())
        op_start[row + 1] = len(ops)
    op_array = _op_array(ops)
    key_lengths = np.stack([offsets[left + 1] - offsets[left], offsets[right + 1] - offsets[right]], axis=1)
    found = np.empty(left.size, dtype=np.int8)
    measured = np.zeros(left.size, dtype=np.float64)
    _judge(rest, units, op_array, op_start, hirschberg, unit_start, key_lengths, share, field_share, numbers,
           _unicode_digits(), _person_tables(), found, measured)
    return found, measured
