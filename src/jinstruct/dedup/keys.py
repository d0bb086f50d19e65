"""The dedup key of a record: which text is compared, and in which canonical form.

The key joins the configured fields (default instruction + input + output),
each folded the same way so that differences that never change meaning vanish
(and moving text between instruction and input does not hide an exact duplicate):

- NFKC (full/half width: ＡＢＣ→ABC, ｶﾀｶﾅ→カタカナ, full-width digits and !?),
  then lower case (Python's one-character ``str.lower`` mappings);
- punctuation variants folded to one form (。/．→., 、/，→,, the quote family
  「」『』“”‘’ → ", 〜/～ → ~), because Japanese text mixes them freely;
- all whitespace removed (``str.isspace``): Japanese has no word spaces, so
  spaces in a key are layout noise (tokenised corpora, line wrapping).

The same canonical key feeds exact dedup (equal keys) and MinHash (character
n-grams of the key). Changing this module changes every key: bump
``settings.KEY_VERSION`` so older indexes are refused.
"""

from __future__ import annotations

import unicodedata

import numba
import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

from jinstruct.dedup.minhash import Utf8Texts, put_utf8, utf8_code_point

_PUNCTUATION_FOLD = {
    "。": ".", "．": ".", "、": ",", "，": ",",
    "「": '"', "」": '"', "『": '"', "』": '"', "“": '"', "”": '"', "‘": '"', "’": '"', "'": '"',
    "〜": "~", "～": "~",
    "【": "[", "】": "]",
}


def _fold_table() -> np.ndarray:
    """Per BMP code point: what it becomes after lower-casing and punctuation folding, or -1
    (whitespace: removed). Lower case as Python's ``str.lower`` has it where that is one
    character (the rare one-to-many mappings such as İ keep the character)."""
    table = np.arange(0x10000, dtype=np.int32)
    for point in range(0x10000):
        char = chr(point)
        if char.isspace():
            table[point] = -1
            continue
        lower = char.lower()
        lower = lower if len(lower) == 1 else char
        table[point] = ord(_PUNCTUATION_FOLD.get(lower, lower))
    return table


def _nfkc_tables(fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fused, safe) per BMP code point: ``fused`` = the fold of the character's NFKC form, and
    ``safe`` = NFKC of a text made only of safe characters is the concatenation of theirs.

    A character is safe when its NFKC form is one BMP character and neither it nor that form
    can combine with a neighbour: no combining class, and not the second part of any
    canonical composition (the conjoining Hangul vowels and finals, ﾞ/ﾟ through U+3099/309A,
    the Indic length marks with class 0). NFKC composes only a starter with what follows
    it, so a text of safe characters composes nothing across characters. A text holding any
    other character (or one outside the BMP) is normalised whole by polars; for characters
    of an NFKC text the fold of the NFKC form is the fold itself, so one table serves both."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for point in range(0x110000):
        if 0xD800 <= point < 0xE000:
            continue
        decomposition = unicodedata.decomposition(chr(point))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                seconds.add(int(parts[1], 16))
    fused, safe = fold.copy(), np.zeros(0x10000, dtype=np.bool_)
    for point in range(0x10000):
        if 0xD800 <= point < 0xE000:
            continue
        char = chr(point)
        form = unicodedata.normalize("NFKC", char)
        # unassigned in Python's Unicode tables may be assigned in polars' (U+A7F1 → s): leave those to polars
        if len(form) != 1 or ord(form) >= 0x10000 or point in seconds or ord(form) in seconds \
                or unicodedata.combining(char) or unicodedata.combining(form) or unicodedata.category(char) == "Cn":
            continue
        safe[point] = True
        fused[point] = fold[ord(form)]
    return fused, safe


def _cached_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(_FOLD, _FUSED, _SAFE), from a file under the user's cache directory when one was written
    for this Python's Unicode tables and this module's table code, else built and stored there.

    Building them asks unicodedata about every code point, ~0.5 s of every command's start-up
    (more than the rest of this package's imports). The file name holds a hash of everything
    the tables follow from, so a changed rule or Unicode version builds a new one; a missing,
    unreadable or unwritable cache only means building them."""
    import hashlib
    import inspect
    import os
    import sys
    import tempfile
    from pathlib import Path

    identity = repr((unicodedata.unidata_version, sys.version_info[:2], sorted(_PUNCTUATION_FOLD.items()),
                     inspect.getsource(_fold_table), inspect.getsource(_nfkc_tables)))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    folder = Path(os.environ.get("JINSTRUCT_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or
                                                                Path.home() / ".cache") / "jinstruct")
    path = folder / f"dedup-key-tables-{digest}.npz"
    try:
        with np.load(path) as stored:
            tables = stored["fold"], stored["fused"], stored["safe"]
        if tables[0].shape == tables[1].shape == tables[2].shape == (0x10000,):
            return tables
    except (OSError, KeyError, ValueError):
        pass
    fold = _fold_table()
    fused, safe = _nfkc_tables(fold)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as handle:
            np.savez(handle, fold=fold, fused=fused, safe=safe)
        os.replace(handle.name, path)  # whole or not at all, for concurrent commands
    except OSError:
        pass
    return fold, fused, safe


_FOLD, _FUSED, _SAFE = _cached_tables()
# _FUSED where _SAFE, else -2 (the text needs polars' NFKC): folded_join's one table
_FUSED_OR_UNSAFE = np.where(_SAFE, _FUSED, -2).astype(np.int32)


@numba.njit(nogil=True, cache=True)
def _unsafe_texts(offsets, data, safe):
    """Per text: does it hold a character outside the BMP or not ``safe`` (needs a real NFKC)?"""
    texts = offsets.size - 1
    result = np.zeros(texts, dtype=np.bool_)
    for text in range(texts):
        position = offsets[text]
        while position < offsets[text + 1]:
            lead = data[position]
            if lead < 0x80:  # ASCII: every one is safe
                position += 1
                continue
            point, width = utf8_code_point(data, position)
            position += width
            if point >= 0x10000 or not safe[point]:
                result[text] = True
                break
    return result


@numba.njit(inline="always")
def _fold_text(data, position, stop, table, check, out, written, points, length, keep_points, keep_bytes=True):
    """Fold the UTF-8 text data[position:stop] by ``table``: decode, map, write the result, with
    ``keep_bytes`` as UTF-8 at out[written:] and with ``keep_points`` as code points at
    points[length:]. Returns (written, length, unsafe). With ``check``, a character outside the BMP
    or one the table marks -2 (not _SAFE: the text needs a real NFKC) stops the text and sets
    ``unsafe``; without it, characters outside the BMP are kept. A folded character takes at most
    3 bytes where it took at least 2 (ASCII stays ASCII), so 1.5 × the input is always room
    enough in ``out``.

    The one decode-and-fold loop of _fold_utf8, _fold_join, features._chunk_features and
    aligned._folded_rows (code points only). The flags are constants in each caller, so its
    compiled loop keeps only the writes it asks for. ASCII and the 3-byte characters the table
    keeps (most of Japanese text) take a branch of their own that copies the bytes: one branch
    per character instead of a decode and a re-encode."""
    unsafe = False
    while position < stop:
        lead = np.int64(data[position])
        if lead < 0x80:
            point = np.int64(table[lead])
            position += 1
            if point >= 0:
                if keep_bytes:
                    out[written] = point
                    written += 1
                if keep_points:
                    points[length] = point
                    length += 1
                continue
        elif 0xE0 <= lead < 0xF0:
            second, third = np.int64(data[position + 1]), np.int64(data[position + 2])
            code = ((lead & 0x0F) << 12) | ((second & 0x3F) << 6) | (third & 0x3F)
            position += 3
            point = np.int64(table[code])
            if point == code:
                if keep_bytes:
                    out[written], out[written + 1], out[written + 2] = lead, second, third
                    written += 3
                if keep_points:
                    points[length] = point
                    length += 1
                continue
        else:
            point, width = utf8_code_point(data, position)
            position += width
            if point < 0x10000:
                point = np.int64(table[point])
            elif check:
                point = -2
        if point == -1:  # whitespace: removed
            continue
        if point == -2:
            unsafe = True
            break
        if keep_bytes:
            written = put_utf8(out, written, point)
        if keep_points:
            points[length] = point
            length += 1
    return written, length, unsafe


@numba.njit(nogil=True, cache=True)
def _fold_utf8(offsets, data, table):
    """Apply the fold table to every text (_fold_text)."""
    texts = offsets.size - 1
    out_offsets = np.empty(texts + 1, dtype=np.int64)
    out = np.empty((offsets[-1] - offsets[0]) * 3 // 2 + 4, dtype=np.uint8)
    no_points = np.empty(0, dtype=np.uint32)
    written = 0
    out_offsets[0] = 0
    for text in range(texts):
        written, _, _ = _fold_text(data, offsets[text], offsets[text + 1], table, False, out, written, no_points, 0,
                                   False)
        out_offsets[text + 1] = written
    return out_offsets, out[:written]


@numba.njit(nogil=True, cache=True)
def _fold_join(offsets, data, table, separator, check):
    """Each text's fields folded by ``table`` (_fold_text) and joined by ``separator`` (UTF-8 bytes):
    offsets (fields × texts + 1) index ``data`` as in features._chunk_features. With ``check``, a
    text holding a character outside the BMP or one the table marks -2 (not _SAFE: needs a real
    NFKC) is left empty and flagged in the returned mask."""
    field_count, texts = offsets.shape[0], offsets.shape[1] - 1
    total = 0
    for field in range(field_count):
        total += offsets[field, texts] - offsets[field, 0]
    out_offsets = np.empty(texts + 1, dtype=np.int64)
    out = np.empty(total * 3 // 2 + texts * (field_count - 1) * separator.size + 4, dtype=np.uint8)
    unsafe = np.zeros(texts, dtype=np.bool_)
    no_points = np.empty(0, dtype=np.uint32)
    written = 0
    out_offsets[0] = 0
    for text in range(texts):
        for field in range(field_count):
            if field:
                for byte in separator:
                    out[written] = byte
                    written += 1
            written, _, flagged = _fold_text(data, offsets[field, text], offsets[field, text + 1], table, check, out,
                                             written, no_points, 0, False)
            if flagged:
                unsafe[text] = True
                written = out_offsets[text]
                break
        out_offsets[text + 1] = written
    return out_offsets, out[:written], unsafe


@numba.njit(nogil=True, cache=True)
def _splice(offsets, data, rows, row_offsets, row_data):
    """The texts (offsets, data) with texts ``rows`` (ascending) replaced by (row_offsets, row_data)."""
    texts = offsets.size - 1
    out_offsets = np.empty(texts + 1, dtype=np.int64)
    out = np.empty(data.size + row_data.size, dtype=np.uint8)
    out_offsets[0] = 0
    written = 0
    replaced = 0
    for text in range(texts):
        if replaced < rows.size and rows[replaced] == text:
            start, stop, source = row_offsets[replaced], row_offsets[replaced + 1], row_data
            replaced += 1
        else:
            start, stop, source = offsets[text], offsets[text + 1], data
        out[written:written + stop - start] = source[start:stop]
        written += stop - start
        out_offsets[text + 1] = written
    return out_offsets, out[:written]


def _stacked(columns: list[pl.Series]) -> tuple[np.ndarray, np.ndarray]:
    """The columns' UTF-8 end to end, and offsets (columns × texts + 1) into it."""
    raw = [Utf8Texts.from_series(column) for column in columns]
    if len(raw) == 1:
        return raw[0].offsets[None, :], raw[0].data
    bases = np.cumsum([0] + [texts.data.size for texts in raw[:-1]])
    return (np.ascontiguousarray(np.stack([texts.offsets + base for texts, base in zip(raw, bases)])),
            np.concatenate([texts.data for texts in raw]))


def folded_join(columns: list[pl.Series], separator: str = "") -> pa.LargeStringArray:
    """The canonical forms of ``columns`` (equal-length text columns), row by row joined by
    ``separator``: canonical_texts of each then concat_str, in one compiled pass. Rows holding a
    character the fold table cannot NFKC (_nfkc_tables) are NFKC'd by polars and folded again:
    folding an NFKC text with _FUSED gives the same as folding it with _FOLD."""
    columns = [column.cast(pl.String).fill_null("").rechunk() for column in columns]
    glue = np.frombuffer(separator.encode(), dtype=np.uint8)
    offsets, out, unsafe = _fold_join(*_stacked(columns), _FUSED_OR_UNSAFE, glue, True)
    rows = np.flatnonzero(unsafe)
    if rows.size:  # polars' NFKC (5M characters/s) only for the rows the table cannot do
        index = pl.Series(rows)
        normalised = [column.gather(index).str.normalize("NFKC") for column in columns]
        row_offsets, row_data, _ = _fold_join(*_stacked(normalised), _FUSED, glue, False)
        offsets, out = _splice(offsets, out, rows, row_offsets, row_data)
    return pa.LargeStringArray.from_buffers(offsets.size - 1, pa.py_buffer(offsets), pa.py_buffer(out))


def nfkc_where_needed(values: pl.Series) -> Utf8Texts:
    """The texts (nulls as empty) as UTF-8 buffers, NFKC'd by polars where the fold table cannot do
    it (_nfkc_tables): folding these with ``_FUSED`` gives the canonical form."""
    texts = values.cast(pl.String).fill_null("").rechunk()
    raw = Utf8Texts.from_series(texts)
    unsafe = np.flatnonzero(_unsafe_texts(raw.offsets, raw.data, _SAFE))
    if unsafe.size:  # polars' NFKC (5M characters/s) only for the texts the table cannot do
        texts = texts.scatter(unsafe, texts.gather(unsafe).str.normalize("NFKC"))
        raw = Utf8Texts.from_series(texts)
    return raw


def canonical_texts(values: pl.Series) -> pl.Series:
    """The canonical form of one text column (rules in the module docstring).

    Lower case, punctuation folding and whitespace removal are one compiled pass over
    the UTF-8 bytes (three polars passes cost 3× as much), and so is NFKC for texts made
    of characters whose NFKC needs no context (_nfkc_tables); other texts are NFKC'd by
    polars first. tests/dedup/test_dedup_records.py checks both paths give polars' NFKC + the fold.
    """
    raw = nfkc_where_needed(values)
    offsets, data = _fold_utf8(raw.offsets, raw.data, _FUSED)
    folded = pa.LargeStringArray.from_buffers(len(raw), pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(values.name, folded, dtype=pl.String)


def canonical_key_expr(canonical_columns: list[str], separator: str = "") -> pl.Expr:
    """The dedup key: the canonical fields concatenated (whitespace, and so any separator, is gone).
    A ``separator`` (a whitespace character, which no canonical field holds) marks where each field ends."""
    return pl.concat_str([pl.col(name) for name in canonical_columns], separator=separator)


def numbers_expr(key: pl.Expr) -> pl.Expr:
    """The digit runs of a key in order ("2000年8月31日" → "2000 8 31").

    Instruction data often differ only in numbers (an arithmetic problem, a
    date, a count) and then have different answers; a character n-gram Jaccard
    cannot tell them from a typo, so near-duplicate pairs must agree on these.
    """
    return key.str.extract_all(r"[0-9]+").list.join(" ")


# A katakana word: a katakana letter (ァ..ヺ, the iteration marks ヽヾ, the small
# kana ㇰ..ㇿ) followed by letters or the long-vowel mark ー. The middle dot ・
# (ジョン・スミス) separates words, as it does in Japanese writing. ー never
# starts a word: after hiragana (すごーい) or alone (ーー used as a dash) it is
# not part of one. Half-width katakana (ｶﾀｶﾅ, ｳﾞ, ｰ) needs no rule of its own:
# the key is NFKC'd, which composes it to the full-width letters matched here.
#
# At least 2 characters: many loanwords and given names are two (パン, バス,
# ペン, トム, ケン, エマ), so 3 would miss exactly the short names a template is
# filled with; a single katakana is rarely a word (ヶ in 3ヶ月, a casual
# sentence-final ネ, a label such as "A/B/C" written ア/イ/ウ), so 1 would make
# incidental characters decide whether two records may be merged.
_KATAKANA_WORD = r"[ァ-ヺヽヾㇰ-ㇿ][ァ-ヺーヽヾㇰ-ㇿ]+"


def names_expr(key: pl.Expr) -> pl.Expr:
    """The katakana words of a key, sorted and unique ("トムとケンのメール" → [ケン, トム, メール]).

    Katakana words are mostly loanwords and foreign proper names (people,
    places, products). A trailing ー is dropped, so that both common spellings
    give one word (コンピューター/コンピュータ): the Cabinet notice 外来語の表記
    (1991) lets the final ー of -er/-or/-ar words be left out by custom, and
    technical writing long did so.
    """
    # one list.eval: polars' list.sort on a 20k-record chunk took 0.25 s, sorting inside eval 0.02 s
    return key.str.extract_all(_KATAKANA_WORD).list.eval(pl.element().str.strip_chars_end("ー").unique().sort())


def joined_names_expr(key: pl.Expr) -> pl.Expr:
    """The katakana words as one string, joined by a space (a key has none): a fifth of
    the memory of a list column, and equal word sets give equal strings."""
    return names_expr(key).list.join(" ")


def _katakana_start(point):
    # _KATAKANA_WORD's first character: ァ..ヺ, ヽヾ, ㇰ..ㇿ
    return 0x30A1 <= point <= 0x30FA or point == 0x30FD or point == 0x30FE or 0x31F0 <= point <= 0x31FF


_katakana_start = numba.njit(inline="always")(_katakana_start)
_LONG_VOWEL = 0x30FC  # ー


@numba.njit(inline="always")
def _word_less(points, first_start, first_stop, second_start, second_stop):
    """Is points[first_start:first_stop] before points[second_start:second_stop] in code-point
    (= UTF-8 byte, polars' string) order?"""
    length = min(first_stop - first_start, second_stop - second_start)
    for offset in range(length):
        if points[first_start + offset] != points[second_start + offset]:
            return points[first_start + offset] < points[second_start + offset]
    return first_stop - first_start < second_stop - second_start


@numba.njit(inline="always")
def _word_key(points, start, stop):
    """The first 7 characters of a katakana word (all in U+30A1..U+31FF) as 9-bit digits, each its
    code point − 0x30A0 (so 1..0x15F), 0 past the end: keys compare as the words' first 7
    characters do in code-point order, a word before its own continuations."""
    key = np.uint64(0)
    for offset in range(7):
        key <<= np.uint64(9)
        if start + offset < stop:
            key |= np.uint64(points[start + offset] - 0x30A0)
    return key


@numba.njit(inline="always")
def _write_names(points, length, starts, stops, keys, out, written):
    """The katakana words of points[:length] (_KATAKANA_WORD, leftmost and longest), trailing ー
    dropped, unique, sorted, joined by a space, as UTF-8 into out[written:]; returns the new end.
    ``starts``, ``stops`` and ``keys`` (uint64) are scratch of at least ``length``. Words are
    ordered by their _word_key, and only words whose keys tie and that are longer than 7
    characters are compared character by character."""
    words = 0
    at = 0
    while at < length:
        if _katakana_start(points[at]) and at + 1 < length and \
                (_katakana_start(points[at + 1]) or points[at + 1] == _LONG_VOWEL):
            stop = at + 1
            while stop < length and (_katakana_start(points[stop]) or points[stop] == _LONG_VOWEL):
                stop += 1
            end = stop
            while end > at and points[end - 1] == _LONG_VOWEL:
                end -= 1
            key = _word_key(points, at, end)
            # insertion sort, equal words once
            slot = words
            duplicate = False
            while slot > 0:
                other = keys[slot - 1]
                if key > other:
                    break
                if key < other:
                    slot -= 1
                    continue
                if end - at <= 7 and stops[slot - 1] - starts[slot - 1] <= 7:
                    duplicate = True
                    break
                if _word_less(points, at, end, starts[slot - 1], stops[slot - 1]):
                    slot -= 1
                elif _word_less(points, starts[slot - 1], stops[slot - 1], at, end):
                    break
                else:
                    duplicate = True
                    break
            if not duplicate:
                for moved in range(words, slot, -1):
                    starts[moved], stops[moved], keys[moved] = starts[moved - 1], stops[moved - 1], keys[moved - 1]
                starts[slot], stops[slot], keys[slot] = at, end, key
                words += 1
            at = stop
        else:
            at += 1
    for word in range(words):
        if word:
            out[written] = 32
            written += 1
        for k in range(starts[word], stops[word]):
            point = np.int64(points[k])  # katakana: three UTF-8 bytes
            out[written] = 0xE0 | (point >> 12)
            out[written + 1] = 0x80 | ((point >> 6) & 0x3F)
            out[written + 2] = 0x80 | (point & 0x3F)
            written += 3
    return written


@numba.njit(nogil=True, cache=True)
def _joined_names(offsets, data):
    """joined_names_expr in one compiled pass: per text, its katakana words (_write_names); UTF-8 out."""
    texts = offsets.size - 1
    longest = 1
    for text in range(texts):
        longest = max(longest, offsets[text + 1] - offsets[text])
    points = np.empty(longest, dtype=np.int64)
    starts = np.empty(longest, dtype=np.int64)
    stops = np.empty(longest, dtype=np.int64)
    keys = np.empty(longest, dtype=np.uint64)
    out = np.empty(max(offsets[-1] - offsets[0], 1) + texts, dtype=np.uint8)  # a word's bytes + a space each
    out_offsets = np.zeros(texts + 1, dtype=np.int64)
    written = 0
    for text in range(texts):
        length = 0
        position = offsets[text]
        while position < offsets[text + 1]:
            point, width = utf8_code_point(data, position)
            points[length] = point
            length += 1
            position += width
        written = _write_names(points, length, starts, stops, keys, out, written)
        out_offsets[text + 1] = written
    return out_offsets, out[:written]


def joined_names(keys: pl.Series) -> pl.Series:
    """joined_names_expr of a key column, compiled (polars' regex extraction and list sort took as
    long as the key's 128-permutation MinHash); tests/dedup/test_names.py checks they agree."""
    raw = Utf8Texts.from_series(keys)
    offsets, data = _joined_names(raw.offsets, raw.data)
    names = pa.LargeStringArray.from_buffers(len(raw), pa.py_buffer(offsets), pa.py_buffer(data))
    return pl.Series(keys.name, names, dtype=pl.String)


def split_names(joined: pl.Series) -> pl.Series:
    """The word lists back from ``joined_names_expr`` strings ("" → [])."""
    return joined.str.split(" ").list.eval(pl.element().filter(pl.element() != ""))


def names_agree(left: pl.Series, right: pl.Series) -> pl.Series:
    """For each pair of katakana word lists: does one record's every word occur in the other?

    A near duplicate adds text (a prefix, an appended sentence) or makes small
    edits, so it may carry extra names; two records where each has a name the
    other lacks were made by *replacing* a name, and are about different things
    (「トムはどんな人ですか」/「ケンはどんな人ですか」) however similar their n-grams.

    Words run together count as their pieces: dropping the particle between
    two katakana words fuses them (ネガティブなイメージ → ネガティブイメージ, a
    typo), and so does dropping the space of ジョン スミス (the key has none), so
    a word that is two or more of the pair's words run together stands for
    those words. Being merely *part* of a word is not enough: トム in トムソン,
    or ムービー in トムービー, is another name. Set membership decides almost
    every pair; only the pairs it refuses are checked for fused words.
    """
    return pl.Series([_words_agree(a, b) for a, b in zip(left.to_list(), right.to_list())], dtype=pl.Boolean)


def joined_names_agree(left: list[str], right: list[str]) -> np.ndarray:
    """names_agree of word lists joined by spaces (joined_names_expr), split here: a polars list
    column's to_list cost more than the rule itself."""
    return np.array([_words_agree([word for word in (a or "").split(" ") if word],
                                  [word for word in (b or "").split(" ") if word])
                     for a, b in zip(left, right)], dtype=bool)


def _words_agree(left: list[str] | None, right: list[str] | None) -> bool:
    # one pair at a time in Python: the polars expression this replaces compiled one regex per
    # exploded row, ~2 ms a pair (2 s of a 500k-record run for ~1,100 pairs)
    left, right = left or [], right or []
    words_left, words_right = set(left), set(right)
    if words_left <= words_right or words_right <= words_left:
        return True
    return _contains_pieces(left, right) or _contains_pieces(right, left)


def _is_run(text: str, words: dict[str, list[str]], at_least: int) -> bool:
    """Is ``text`` ``at_least`` or more of ``words`` (by first character, _by_first) run together,
    each optionally followed by ー (a word whose trailing ー was folded keeps it inside a run)? The
    regular language ((w1|w2|…)ー?){at_least,}, decided by the most pieces that reach each position
    (linear in the text per word, where a backtracking regex can take exponential time)."""
    most = [-1] * (len(text) + 1)  # the most pieces of a run ending at each position (-1: none)
    most[0] = 0
    for position, first in enumerate(text):
        if most[position] < 0:
            continue
        for word in words.get(first, ()):
            if text.startswith(word, position):
                stop = position + len(word)
                most[stop] = max(most[stop], most[position] + 1)
                if text.startswith("ー", stop):
                    most[stop + 1] = max(most[stop + 1], most[position] + 1)
    return most[-1] >= at_least


def _by_first(words: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for word in words:
        if word:
            found.setdefault(word[0], []).append(word)
    return found


def _contains_pieces(whole: list[str], part: list[str]) -> bool:
    """Every word of ``part`` that ``whole`` lacks is a run of ``whole``'s words (fused in
    ``part``), or occurs in a word of ``whole`` that is a run of two or more of the pair's
    words (fused in ``whole``)."""
    whole_words = set(whole)
    pair_words, by_first = _by_first(whole_words | set(part)), _by_first(whole_words)
    fused = [word for word in whole if _is_run(word, pair_words, 2)]
    return all(_is_run(word, by_first, 1) or any(word in other for other in fused)
               for word in set(part) - whole_words)


def stable_hashes(values: pl.Series, bits: int = 64, batch: int = 100_000) -> pl.Series:
    """xxh3 of each string's UTF-8 bytes: stable across processes, machines and polars versions.

    polars' own ``hash`` is documented as unstable across versions, and the
    hashes are stored in the index a later release compares against. The
    strings reach xxhash as bytes straight from polars (no ``str.encode``), in
    batches so that millions of keys never exist as Python objects at once.
    """
    digest, dtype = (xxhash.xxh3_128_hexdigest, pl.String) if bits == 128 else (xxhash.xxh3_64_intdigest, pl.UInt64)
    as_bytes = values.cast(pl.String).fill_null("").cast(pl.Binary)
    parts = [pl.Series(values.name, list(map(digest, as_bytes.slice(start, batch).to_list())), dtype=dtype)
             for start in range(0, values.len(), batch)]
    return pl.concat(parts) if parts else pl.Series(values.name, [], dtype=dtype)
