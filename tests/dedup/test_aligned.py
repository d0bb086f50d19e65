"""The compiled verdicts (dedup/aligned.py) are edits.edit_verdict's, pair for pair."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import polars as pl
import pytest
from rapidfuzz.distance import Indel, Levenshtein

from jinstruct.dedup import aligned
from jinstruct.dedup.edits import ACCEPTED, FIELD_SEPARATOR, NUMBER, PERSON, edit_verdict, edits_confirm
from jinstruct.dedup.keys import canonical_texts

SENTENCES = [
    "佐藤健一さんは三月十日に京都へ行きました。", "清水寺の近くで古い友人と会いました。",
    "二人は昼ご飯を食べながら昔の話をしています。", "夕方には新幹線で東京に帰りました。",
    "次の質問に答えてください。", "選択肢：1.原っぱ、2.床、3.扉、4.壁、5.廊下",
    "この店は午前9時から午後8時まで開いています。", "彼はその本を読まなかった。",
    "トムはメアリーにプレゼントを渡した。", "ジョン・スミスはコンピューターの専門家です。",
    "彼女の父は医者で、兄は先生です。", "私たちはお母さんと祖父の家へ行った。",
    "明日は雨です!", "本当ですか?", "答え:3", "1.りんご,2.みかん,3.ぶどう", "私は来年外国にいきたい。",
    "これは不可能ではない。", "五人で二時間歩いた。", "Apples are red.", "3.14は円周率です。",
]
NOISE = list("あいうえおかきくけこなませんかっ不非無未一二三十百年月日人個0123456789京都奈良佐藤加"
             "アイウエオトムケン・,./;!?\n彼女父母兄姉男ら") + ["ない", "ません", "なかった", "二十", "三月", "さん",
                                                           "たち", "あなた", "お父さん", "息子"]


def _edited(text: str, rng: random.Random) -> str:
    """``text`` with 0–4 random edits of the kinds a copy or another record carries."""
    for _ in range(rng.randint(0, 4)):
        kind = rng.randrange(6)
        position = rng.randint(0, len(text))
        if kind == 0 and text:  # replace a character
            position = min(position, len(text) - 1)
            text = text[:position] + rng.choice(NOISE) + text[position + 1:]
        elif kind == 1:  # insert
            text = text[:position] + rng.choice(NOISE) + text[position:]
        elif kind == 2:  # delete a few characters
            text = text[:position] + text[position + rng.randint(1, 3):]
        elif kind == 3 and position + 2 <= len(text):  # swap two characters
            text = text[:position] + text[position + 1] + text[position] + text[position + 2:]
        elif kind == 4:  # add a sentence
            text = text[:position] + rng.choice(SENTENCES) + text[position:]
        else:  # drop the text up to the next sentence end
            end = min([found for found in (text.find(mark, position) for mark in "。!?\n") if found >= 0],
                      default=len(text))
            text = text[:position] + text[end + 1:]
    return text


def _parts(rng: random.Random, fields: int) -> list[str]:
    parts = ["".join(rng.sample(SENTENCES, rng.randint(1, 4))) for _ in range(fields)]
    if fields > 1 and rng.random() < 0.2:
        parts[rng.randrange(fields)] = ""  # an empty field (input is often empty)
    return parts


def _generated_pairs(count: int, seed: int, fields: int) -> list[str]:
    rng = random.Random(seed)
    keys = []
    for _ in range(count):
        parts = _parts(rng, fields)
        first = "\n".join(parts)
        second = "\n".join(_edited(part, rng) for part in parts) if rng.random() < 0.9 else _edited(first, rng)
        keys.extend(canonical_texts(pl.Series([first, second])).to_list())
    return keys


@pytest.mark.parametrize(("fields", "seed"), [(1, 1), (1, 2), (3, 3), (3, 4)])
def test_compiled_verdicts_are_edit_verdicts(fields, seed):
    keys = _generated_pairs(600, seed, fields)
    left, right = np.arange(0, len(keys), 2), np.arange(1, len(keys), 2)
    found, measured = aligned.verdicts(keys, left, right, 0.85, True, 0.5)
    expected = [edit_verdict(keys[i], keys[j], 0.85, True, 0.5) for i, j in zip(left.tolist(), right.tolist())]
    assert found.tolist() == [verdict for verdict, _ in expected]
    assert measured.tolist() == [share for _, share in expected]
    # the generator makes both kinds: the comparison is not between two lists of one verdict
    assert 0.05 < float(np.mean(found == ACCEPTED)) < 0.95
    assert len(set(found.tolist())) >= 4 and PERSON in found.tolist()


def test_numbers_off_and_pairs_in_any_order():
    keys = _generated_pairs(200, 5, 1)
    rng = np.random.default_rng(0)
    left, right = rng.integers(0, len(keys), 300), rng.integers(0, len(keys), 300)
    found, _ = aligned.verdicts(keys, left, right, 0.7, False, 0.0)
    assert found.tolist() == [edit_verdict(keys[i], keys[j], 0.7, False, 0.0)[0]
                              for i, j in zip(left.tolist(), right.tolist())]


def _reference_unshared(a: str, b: str) -> tuple[int, str, str]:
    """Written from the rule, not from edits.py: cut each text after every . ! ? or newline that
    does not follow a digit as a list number ("3."); a sentence held by both sides (counted with
    multiplicity) is shared; what remains of each side keeps its order."""
    def sentences(text: str) -> list[str]:
        pieces, start = [], 0
        for position in range(1, len(text) + 1):
            mark = text[position - 1]
            if mark in ".!?\n" and not (mark == "." and position >= 2 and text[position - 2] in "0123456789"):
                pieces.append(text[start:position])
                start = position
        return pieces + [text[start:]]
    left, right = sentences(a), sentences(b)
    common = Counter(left) & Counter(right)
    shared = sum(len(sentence) * times for sentence, times in common.items())

    def rest(pieces: list[str]) -> str:
        budget, kept = Counter(common), []
        for piece in pieces:
            if budget[piece]:
                budget[piece] -= 1
            else:
                kept.append(piece)
        return "".join(kept)
    return shared, rest(left), rest(right)


def test_shared_sentences_match_a_reference_written_from_the_rule():
    keys = _generated_pairs(300, 6, 1) + ["a.b.a.", "a.a.b.", "1.x2.y.", "x2.y.1.", "", "!!", "!"]
    rng = np.random.default_rng(1)
    for i, j in zip(rng.integers(0, len(keys), 400).tolist(), rng.integers(0, len(keys), 400).tolist()):
        points, offsets = aligned.code_points([keys[i], keys[j]])
        out = np.empty(len(keys[i]) + len(keys[j]) + 1, dtype=np.uint32)
        shared, a0, a1, b0, b1 = aligned._unshared(points, 0, offsets[1], offsets[1], offsets[2], out, 0)
        rest_a, rest_b = (out[start:stop].tobytes().decode("utf-32-le") for start, stop in ((a0, a1), (b0, b1)))
        assert (shared, rest_a, rest_b) == _reference_unshared(keys[i], keys[j])


@pytest.mark.parametrize("text", ["ないません不なかった", "なかっない", "まなせん", "無非未不", "なかな", "", "ませ"])
def test_negations_count_as_the_regex_does(text):
    points, _ = aligned.code_points([text])
    assert aligned._negations(points, 0, len(text)) == len(re.findall("ない|ません|なかっ|不|非|無|未", text))


@pytest.mark.parametrize(("a", "b"), [("a1b22", "x1y22"), ("1", "11"), ("12", "1x2"), ("", ""), ("a", "3"),
                                      ("2000年8月", "2000年9月"), ("7", "7a")])
def test_digit_runs_compare_as_findall_does(a, b):
    points, offsets = aligned.code_points([a, b])
    differ = aligned._digit_runs_differ(points, 0, offsets[1], offsets[1], offsets[2])
    assert differ == (re.findall("[0-9]+", a) != re.findall("[0-9]+", b))


@pytest.mark.parametrize(("a", "b"), [("原っぱ", "原っぱ"), ("まくら", "壁"), ("abc", "acb"), ("a", "bcdefgh")])
def test_item_similarity_is_rapidfuzz_indel(a, b):
    points, offsets = aligned.code_points([a, b])
    assert aligned._indel_similarity(points, 0, offsets[1], offsets[1], offsets[2]) == \
        Indel.normalized_similarity(a, b)


def test_a_copy_is_merged_and_another_date_is_not():
    story = ("佐藤健一さんは三月十日に京都へ行きました。清水寺の近くで古い友人と会いました。"
             "夕方には新幹線で東京に帰りました。")
    keys = canonical_texts(pl.Series([story, story.replace("古い", "ふるい"), story.replace("三月十日", "三月二十日")]))
    confirmed, verdicts = edits_confirm(keys.to_list(), np.array([0, 0]), np.array([1, 2]), 0.85)
    assert confirmed.tolist() == [True, False]
    assert verdicts.tolist() == [ACCEPTED, NUMBER]


def test_keys_decoded_from_arrow_buffers_are_the_strings_code_points():
    # one to four UTF-8 bytes per character, empty keys, rows in any order and repeated
    texts = ["あい\n𫠜x", "", "abc", "é ü ß", "日本語。テスト!", "😀1.2", "ｶﾀｶﾅ"]
    buffers = aligned.key_texts(pl.Series(texts))
    rows = np.array([6, 0, 1, 5, 5, 3, 2, 4])
    points, offsets, fields = aligned._decoded_rows(buffers.offsets, buffers.data, rows)
    expected_points, expected_offsets = aligned.code_points([texts[row] for row in rows.tolist()])
    assert points.tolist() == expected_points.tolist() and offsets.tolist() == expected_offsets.tolist()
    assert fields.tolist() == [texts[row].count("\n") + 1 for row in rows.tolist()]


def test_keys_as_a_column_or_a_list_and_threads_change_no_verdict(monkeypatch):
    keys = _generated_pairs(300, 8, 3)
    left, right = np.arange(0, len(keys), 2), np.arange(1, len(keys), 2)
    from_list = aligned.verdicts(keys, left, right, 0.85, True, 0.5)
    monkeypatch.setattr(aligned, "_BATCH_PAIRS", 13)
    from_column = aligned.verdicts(pl.Series(keys), left, right, 0.85, True, 0.5, n_jobs=2)
    assert from_list[0].tolist() == from_column[0].tolist() and from_list[1].tolist() == from_column[1].tolist()
    assert len(set(from_list[0].tolist())) >= 3  # not one verdict for every pair


def test_batches_change_no_verdict(monkeypatch):
    keys = _generated_pairs(300, 7, 3)
    left, right = np.arange(0, len(keys), 2), np.arange(1, len(keys), 2)
    whole = aligned.verdicts(keys, left, right, 0.85, True, 0.5)
    monkeypatch.setattr(aligned, "_BATCH_PAIRS", 7)
    batched = aligned.verdicts(keys, left, right, 0.85, True, 0.5)
    assert whole[0].tolist() == batched[0].tolist() and whole[1].tolist() == batched[1].tolist()


def _opcode_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """Pairs to align: random texts over small alphabets (many equal-cost alignments), Japanese,
    runs of one character, empty sides, lengths around one and several 64-bit words, and edited copies."""
    rng = random.Random(seed)
    alphabets = ["ab", "abc", "aaaaab", "あいう", "彼女は医者です。私", "".join(map(chr, range(0x4E00, 0x4E40))),
                 "".join(SENTENCES)]
    pairs = []
    for _ in range(count):
        alphabet = rng.choice(alphabets)
        first = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, rng.choice([0, 1, 5, 63, 64, 65, 130,
                                                                                          400]))))
        if rng.random() < 0.6:  # an edited copy: a few characters and runs replaced, added or dropped
            second = list(first)
            for _ in range(rng.randint(0, 8)):
                at = rng.randint(0, len(second))
                kind = rng.randrange(4)
                if kind == 0:
                    second.insert(at, rng.choice(alphabet))
                elif kind == 1 and second:
                    del second[min(at, len(second) - 1)]
                elif kind == 2 and second:
                    second[min(at, len(second) - 1)] = rng.choice(alphabet)
                else:
                    second[at:at] = rng.choices(alphabet, k=rng.randint(1, 70))
            second = "".join(second)
        else:
            second = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, rng.choice([0, 3, 64, 65, 200]))))
        pairs.append((first, second) if rng.random() < 0.5 else (second, first))
    return pairs


@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_opcodes_are_rapidfuzz_opcodes(seed):
    # the verdicts depend on which of several equal-cost alignments is taken: rapidfuzz's, exactly
    for first, second in _opcode_pairs(3_000, seed):
        assert aligned.levenshtein_opcodes(first, second) == Levenshtein.opcodes(first, second).as_list()


def test_long_very_different_texts_keep_rapidfuzz_alignment():
    # rapidfuzz aligns these with Hirschberg's algorithm: the compiled path hands them to rapidfuzz
    rng = random.Random(3)
    first, second = ("".join(rng.choice("あいうえお") for _ in range(2_200)) for _ in range(2))
    points, offsets = aligned.code_points([first, second])
    assert aligned._hirschberg(*(length - sum(aligned._affix(points, 0, offsets[1], offsets[1], offsets[2]))
                                 for length in (len(first), len(second))))
    assert aligned.levenshtein_opcodes(first, second) == Levenshtein.opcodes(first, second).as_list()


def test_compiled_alignment_gives_the_reference_verdicts():
    keys = _generated_pairs(400, 8, 3) + _generated_pairs(400, 9, 1)
    left, right = np.arange(0, len(keys), 2), np.arange(1, len(keys), 2)
    compiled = aligned.verdicts(keys, left, right, 0.85, True, 0.5)
    reference = aligned.verdicts(keys, left, right, 0.85, True, 0.5, rapidfuzz=True)
    assert compiled[0].tolist() == reference[0].tolist() and compiled[1].tolist() == reference[1].tolist()


# characters the fold table cannot NFKC alone (a combining mark after its base, a character outside
# the BMP, a compatibility form NFKC composes with its neighbour), others it can (width, case,
# punctuation), and whitespace that the key drops
_RAW_PIECES = ["ｶﾞｷﾞ", "か\u3099", "e\u0301", "𠮷野家", "①②", "㍻", "ＡＢＣ", "İstanbul", "「引用」", "〜",
               " 空白\t", "\n", "ｺﾝﾋﾟｭｰﾀｰ", "Straße", "ﬁle"]


@pytest.mark.parametrize(("fields", "seed"), [(1, 6), (3, 7)])
def test_field_texts_fold_to_the_canonical_keys(fields, seed):
    # FieldTexts (the raw fields, folded by each batch as it decodes them) gives the code points of
    # the keys that features.canonical_keys writes (keys.folded_join), and so the same verdicts
    from jinstruct.dedup.features import canonical_keys
    from jinstruct.dedup.settings import DedupSettings

    rng = random.Random(seed)
    names = ["instruction", "input", "output"][:fields]
    columns: dict[str, list] = {name: [] for name in names}
    for _ in range(300):
        base = {name: "".join(rng.sample(SENTENCES, rng.randint(1, 3))) for name in names}
        for text in (base, {name: _edited(value, rng) for name, value in base.items()}):
            for name in names:
                value = text[name]
                if rng.random() < 0.3:  # some records need polars' NFKC, some have spaces or nulls
                    position = rng.randint(0, len(value))
                    value = value[:position] + rng.choice(_RAW_PIECES) + value[position:]
                columns[name].append(None if rng.random() < 0.03 else value)
    df = pl.DataFrame(columns, schema={name: pl.String for name in names})
    expected = canonical_keys(df, DedupSettings(fields=tuple(names)), FIELD_SEPARATOR)
    texts = aligned.FieldTexts.from_columns([df[name] for name in names])
    rows = np.array([5, 3, 3, 0, 17, 599, 2, 100], dtype=np.int64)  # any rows, repeated, out of order
    points, starts, counts = texts.decoded(rows)
    keys = expected.to_list()
    assert [points[starts[k]:starts[k + 1]].tobytes().decode("utf-32-le") for k in range(rows.size)] == \
        [keys[row] for row in rows.tolist()]
    assert counts.tolist() == [fields] * rows.size
    assert texts.to_list() == keys
    # the rows that went through polars' NFKC are there: the comparison covers both ways
    assert sum("㍻" in key or "平成" in key for key in keys) > 5 and any("𠮷" in key for key in keys)
    left, right = np.arange(0, len(keys), 2), np.arange(1, len(keys), 2)
    found, measured = aligned.verdicts(texts, left, right, 0.85, True, 0.5, n_jobs=2)
    reference = aligned.verdicts(expected, left, right, 0.85, True, 0.5)
    assert found.tolist() == reference[0].tolist() and measured.tolist() == reference[1].tolist()
    assert 0.05 < float(np.mean(found == ACCEPTED)) < 0.95


def _uniform_pairs(count: int, seed: int, fields: int) -> list[str]:
    """Pairs of keys of ``fields`` canonical fields each, joined by FIELD_SEPARATOR as FieldTexts
    makes them (canonical_texts removes the line breaks _generated_pairs joins with): every key holds
    as many fields, so the batches take _key_pieces' path."""
    rng = random.Random(seed)
    keys = []
    for _ in range(count):
        parts = _parts(rng, fields)
        edited = [_edited(part, rng) for part in parts]
        keys.extend(FIELD_SEPARATOR.join(canonical_texts(pl.Series(side)).to_list()) for side in (parts, edited))
    return keys


@pytest.mark.parametrize(("fields", "seed"), [(1, 11), (3, 12)])
def test_pieces_per_key_prepare_what_each_pair_prepared(fields, seed):
    # _prepare_pieces (each key split once) against _prepare (both keys split for every pair), on
    # pairs in any order, a key in many pairs; digit runs that differ only in where they stand
    # (x12 / 12x: the same runs) or in how they split (12,3 / 1,23: other runs)
    keys = _uniform_pairs(300, seed, fields)
    digits = ["x12", "12x", "12,3", "1,23", "a1b2", "a12b", "1", "", "7.", "7"]
    keys += [FIELD_SEPARATOR.join([text] * fields) for text in digits]
    rng = np.random.default_rng(seed)
    left = np.concatenate([rng.integers(0, len(keys), 400), np.full(len(digits), len(keys) - len(digits))])
    right = np.concatenate([rng.integers(0, len(keys), 400), np.arange(len(keys) - len(digits), len(keys))])
    points, offsets, counts = aligned._decoded_rows(*_buffers(keys), np.arange(len(keys)))
    assert set(counts.tolist()) == {fields}
    unit_start = np.arange(left.size + 1, dtype=np.int64) * fields
    room = int((offsets[left + 1] - offsets[left] + offsets[right + 1] - offsets[right]).sum())
    units, rest = np.zeros((left.size * fields, 12), dtype=np.int64), np.zeros(room, dtype=np.uint32)
    aligned._prepare(points, offsets, left, right, True, unit_start, units, rest)
    pieces = aligned._key_pieces(points, offsets, fields)
    units_pieces, rest_pieces = np.zeros_like(units), np.zeros_like(rest)
    aligned._prepare_pieces(points, pieces, fields, left, right, True, unit_start, units_pieces, rest_pieces)
    assert units_pieces.tolist() == units.tolist() and rest_pieces.tolist() == rest.tolist()
    # the digit runs compared as the rule says (re.findall), for the digit cases' first field
    first_fields = [key.split(FIELD_SEPARATOR)[0] for key in keys]
    tail = slice(left.size - len(digits), left.size)
    expected = [bool(min(len(first_fields[i]), len(first_fields[j]))) and
                re.findall("[0-9]+", first_fields[i]) != re.findall("[0-9]+", first_fields[j])
                for i, j in zip(left[tail].tolist(), right[tail].tolist())]
    assert units_pieces[tail.start * fields:tail.stop * fields:fields, 3].astype(bool).tolist() == expected
    assert True in expected and expected.count(False) >= 3  # 12x is 12 again, 12,3 is not 1,23
    assert units[:, 4].sum() > 0 and (units[:, 3] == 1).any()  # shared sentences and differing digits occur


def _buffers(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    buffers = aligned.key_texts(keys)
    return buffers.offsets, buffers.data


@pytest.mark.parametrize(("fields", "seed"), [(1, 13), (3, 14)])
def test_keys_decoded_once_or_per_batch_give_edit_verdicts(fields, seed, monkeypatch):
    # every key holds ``fields`` fields: the pieces path; decoded once for all pairs, and per batch
    # (over the _DECODED_POINTS budget), both edit_verdict's verdicts and shares
    keys = _uniform_pairs(500, seed, fields)
    left, right = np.arange(0, len(keys), 2), np.arange(1, len(keys), 2)
    assert aligned._decoded_once(aligned.key_texts(keys), left, right)[5] is not None
    once = aligned.verdicts(keys, left, right, 0.85, True, 0.5)
    monkeypatch.setattr(aligned, "_DECODED_POINTS", 0)
    monkeypatch.setattr(aligned, "_BATCH_PAIRS", 17)
    assert aligned._decoded_once(aligned.key_texts(keys), left, right) is None
    per_batch = aligned.verdicts(pl.Series(keys), left, right, 0.85, True, 0.5, n_jobs=2)
    expected = [edit_verdict(keys[i], keys[j], 0.85, True, 0.5) for i, j in zip(left.tolist(), right.tolist())]
    for found, measured in (once, per_batch):
        assert found.tolist() == [verdict for verdict, _ in expected]
        assert measured.tolist() == [share for _, share in expected]
    assert len(set(once[0].tolist())) >= 4 and 0.05 < float(np.mean(once[0] == ACCEPTED)) < 0.95


def test_mixed_field_counts_split_each_pair():
    # keys with other numbers of fields: no _key_pieces, _prepare splits each pair's keys
    keys = ["あ.い\nう", "あ.い", "a\nb\nc", "a\nb\nc"]
    decoded = aligned._decoded_once(aligned.key_texts(keys), np.array([0, 2]), np.array([1, 3]))
    assert decoded[4] == 0 and decoded[5] is None
    found, _ = aligned.verdicts(keys, [0, 2], [1, 3], 0.85, True, 0.5)
    assert found.tolist() == [edit_verdict(keys[0], keys[1], 0.85, True, 0.5)[0], ACCEPTED]
