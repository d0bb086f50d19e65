"""dedup_records on hand-written Japanese records: what is removed, what is kept, and why."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from jinstruct.dedup import dedup_records
from jinstruct.dedup.features import key_features
from jinstruct.dedup.keys import canonical_texts
from jinstruct.dedup.lsh import fields_agree
from jinstruct.dedup.minhash import distinct_shingle_counts
from jinstruct.dedup.settings import resolve_settings
from jinstruct.records import InputError
from jinstruct.stage import stage_stats
from tests.support import TANAKA
from tests.support.dedup import FUJI_A, FUJI_Q, KYOTO_A, KYOTO_Q, frame, record

PARAMS = {"ngram": 5, "num_perm": 128, "threshold": 0.8, "n_jobs": 1}
DETAIL = {
    "exact_duplicate": re.compile(r"^exact duplicate of (\S+) \(same normalised key, jaccard 1\.00\)$"),
    "near_duplicate": re.compile(r"^near duplicate of (\S+) \(jaccard ([01]\.\d\d), "
                                 r"(MinHash estimate|exact Jaccard)\)$"),
    "duplicate_of_previous_release": re.compile(r"^duplicate of (\S+) in the previous release "
                                                r"\(jaccard ([01]\.\d\d)\)$"),
}


def run(rows: list[dict], **overrides):
    outcome = dedup_records(frame(rows), {**PARAMS, **overrides})
    df = frame(rows)
    stage_stats("dedup", df, outcome.result)  # raises when in != out + rejected, overall or per source
    kept = set(outcome.result.kept["id"].to_list())
    rejected = {row["id"]: (row["reason"], row["detail"]) for row in outcome.result.rejected.iter_rows(named=True)}
    assert kept.isdisjoint(rejected) and kept | set(rejected) == {row["id"] for row in rows}
    for reason, detail in rejected.values():
        match = DETAIL[reason].match(detail)
        assert match, detail
        assert match.group(1) in kept or reason == "duplicate_of_previous_release"
    return outcome, kept, rejected


def test_exact_duplicates_keep_one_and_name_it():
    rows = [record("a:1", FUJI_Q, FUJI_A), record("a:2", FUJI_Q, FUJI_A), record("a:3", FUJI_Q, FUJI_A),
            record("a:4", KYOTO_Q, KYOTO_A)]
    outcome, kept, rejected = run(rows)
    assert kept == {"a:1", "a:4"}
    assert rejected == {
        "a:2": ("exact_duplicate", "exact duplicate of a:1 (same normalised key, jaccard 1.00)"),
        "a:3": ("exact_duplicate", "exact duplicate of a:1 (same normalised key, jaccard 1.00)"),
    }
    clusters = outcome.clusters
    assert clusters.columns == ["cluster_id", "id", "source", "task", "kept", "reason", "similarity"]
    assert clusters.rows() == [
        ("a:1", "a:1", "a", "open_qa", True, None, 1.0),
        ("a:1", "a:2", "a", "open_qa", False, "exact_duplicate", 1.0),
        ("a:1", "a:3", "a", "open_qa", False, "exact_duplicate", 1.0),
    ]


def test_width_punctuation_and_spacing_variants_are_exact_duplicates():
    original = record("a:1", "カタカナで「テスト」と書いてください。", "テスト、ＯＫです！")
    variants = [
        record("a:2", "ｶﾀｶﾅで『ﾃｽﾄ』と書いてください．", "ﾃｽﾄ，OKです!"),      # half-width kana, punctuation swaps
        record("a:3", "カタカナで 「テスト」 と書いてください 。", "テスト、okです！"),  # spaces, lower case
    ]
    _, kept, rejected = run([original, *variants])
    assert kept == {"a:1"}
    assert {reason for reason, _ in rejected.values()} == {"exact_duplicate"}


@pytest.mark.parametrize(("text", "canonical"), [
    ("ＡＢＣ　ｄｅｆ\tG\n", "abcdefg"),                      # NFKC width, lower case, every kind of space
    ("「こんにちは」、世界。", '"こんにちは",世界.'),          # quotes, comma and full stop folded
    ("ｶﾞｯｺｳ【重要】〜", "ガッコウ[重要]~"),                  # half-width kana composed; brackets, wave dash
    ("𠮷野家の牛丼　Ｑ＆Ａ", "𠮷野家の牛丼q&a"),               # beyond the BMP passes through
    ("ÄÖÜ ΣΑΣ Привет", "äöüσασпривет"),                      # non-ASCII upper case
    (None, ""),
])
def test_canonical_text(text, canonical):
    assert canonical_texts(pl.Series("t", [text, "x"], dtype=pl.String)).to_list() == [canonical, "x"]


def test_near_duplicates_with_typos_and_additions_are_clustered():
    rows = [
        record("a:1", FUJI_Q, FUJI_A),
        record("a:2", FUJI_Q, FUJI_A.replace("美しい", "うつくしい")),             # a small edit
        record("a:3", "質問：" + FUJI_Q, FUJI_A + "参考になれば幸いです。"),        # prefix + appended sentence
        record("a:4", KYOTO_Q, KYOTO_A),
    ]
    outcome, kept, rejected = run(rows)
    # a:3 has the longest output, so it is the kept record of the cluster
    assert kept == {"a:3", "a:4"}
    assert {k: v[0] for k, v in rejected.items()} == {"a:1": "near_duplicate", "a:2": "near_duplicate"}
    similarities = dict(outcome.clusters.select("id", "similarity").iter_rows())
    assert 0.8 <= similarities["a:1"] < 1.0 and 0.7 <= similarities["a:2"] < 1.0


CALC = ("次の計算をしてください。途中式も示し、百の位から順に足していく方法で、"
        "繰り上がりに注意して答えを求めてください：")
STORY = ("は毎朝早く起きて、駅前の小さなパン屋で朝ごはんを買ってから、電車に乗って会社へ向かいます。"
         "どんな人だと思いますか？")
HARD_NEGATIVES = [
    record("m:1", CALC + "128 + 345", "答えは473です。"),
    record("m:2", CALC + "128 + 346", "答えは474です。"),
    record("k:1", "トム" + STORY, "早起きで、朝の時間を大切にする人です。"),
    record("k:2", "ケン" + STORY, "早起きで、朝の時間を大切にする人です。"),
]


@pytest.mark.parametrize("guard_off, merged", [
    ({}, []),   # every guard on: both hard-negative pairs stay
    ({"numbers_must_match": False}, ["m:2"]),
    ({"names_must_match": False}, ["k:2"]),
    ({"numbers_must_match": False, "names_must_match": False}, ["k:2", "m:2"]),
])
def test_hard_negatives_are_kept_only_by_their_guard(guard_off, merged):
    # The pairs are near duplicates as text (one number or one katakana name differs), so with a guard
    # switched off its pair is merged: the test fails if a guard stops working, not only if it over-merges.
    # verify: signature, whose similarity cannot tell a name or a number from a typo (verify: edits
    # refuses these pairs by its own word and number guards as well: tests/dedup/test_edits.py)
    _, kept, rejected = run(HARD_NEGATIVES, threshold=0.6, field_overlap=0, verify="signature", **guard_off)
    assert sorted(rejected) == merged
    assert kept == {"m:1", "m:2", "k:1", "k:2"} - set(merged)


def test_numbers_guard_is_what_keeps_numeric_variants_apart():
    same_text = "次の計算をしてください。途中式も示し、百の位から順に足していく方法で答えを求めてください："
    rows = [record("m:1", same_text + "128 + 345", "473"), record("m:2", same_text + "128 + 346", "474")]
    _, kept_guarded, _ = run(rows)
    _, kept_unguarded, rejected = run(rows, numbers_must_match=False, field_overlap=0)
    assert kept_guarded == {"m:1", "m:2"}
    assert len(kept_unguarded) == 1 and [r for r, _ in rejected.values()] == ["near_duplicate"]


def test_questions_on_one_shared_passage_are_not_duplicates_but_their_copies_are():
    passage = FUJI_Q + FUJI_A + KYOTO_Q + KYOTO_A  # a long shared context dominates the whole-record Jaccard
    rows = [
        record("q:1", "富士山の標高は？", "3776メートルです。", input=passage, task="reading_comprehension"),
        record("q:2", "京都に残る寺の例を挙げてください。", "清水寺と金閣寺です。", input=passage,
               task="reading_comprehension"),
        record("q:3", "質問：京都に残る寺の例を挙げてください", "清水寺と金閣寺です。", input=passage,
               task="reading_comprehension"),  # a real near duplicate of q:2 (prefix, punctuation)
    ]
    _outcome, kept, rejected = run(rows, threshold=0.7)
    assert kept == {"q:1", "q:2"} and set(rejected) == {"q:3"}
    _, kept_unchecked, _ = run(rows, threshold=0.7, field_overlap=0, numbers_must_match=False, verify="signature")
    assert len(kept_unchecked) == 1  # without the per-field check the passage makes all three "duplicates"


def test_short_records_are_deduplicated_by_exact_key_only():
    rows = [
        record("s:1", "はい", ""), record("s:2", "はい", ""),          # identical, shorter than n=5
        record("s:3", "いいえ", ""),                                   # different short record
        record("s:4", "はい。", ""),  # same key after punctuation folding? no: "." stays
    ]
    outcome, kept, rejected = run(rows)
    assert rejected == {"s:2": ("exact_duplicate", "exact duplicate of s:1 (same normalised key, jaccard 1.00)")}
    assert kept == {"s:1", "s:3", "s:4"}
    assert outcome.result.extra_stats["dedup"]["short_records"] == 4


def test_the_same_text_in_two_tasks_is_not_a_duplicate():
    rows = [record("a:1", FUJI_Q, FUJI_A, task="open_qa"), record("a:2", FUJI_Q, FUJI_A, task="general")]
    _, kept, rejected = run(rows)
    assert kept == {"a:1", "a:2"} and rejected == {}


def _tanaka_pair(line: int, ja: str, en: str) -> list[dict]:
    group = f"tanaka:{line}"
    return [
        record(f"tanaka:{line}:en_ja", "次の英文を日本語に翻訳してください。", ja, input=en,
               task="translation_en_ja", group=group),
        record(f"tanaka:{line}:ja_en", "次の日本語を英語に翻訳してください。", en, input=ja,
               task="translation_ja_en", group=group),
    ]


def test_the_two_directions_of_a_translation_pair_are_never_merged():
    rows = _tanaka_pair(1, "私は毎朝コーヒーを飲みます。", "i drink coffee every morning .")
    # a same-task near duplicate inside one group is also left alone
    rows.append(record("tanaka:1:en_ja_b", "次の英文を日本語に翻訳してください", "私は毎朝コーヒーを飲みます。",
                       input="i drink coffee every morning .", task="translation_en_ja", group="tanaka:1"))
    _, kept, rejected = run(rows, threshold=0.5)
    assert rejected == {} and len(kept) == 3


def test_real_tanaka_pairs_are_not_deduplicated_against_their_other_direction():
    ja = (TANAKA / "train.ja").read_text(encoding="utf-8").splitlines()[:300]
    en = (TANAKA / "train.en").read_text(encoding="utf-8").splitlines()[:300]
    rows = [row for line, (j, e) in enumerate(zip(ja, en), start=1)
            for row in _tanaka_pair(line, j.replace(" ", ""), e)]
    # a low threshold makes the siblings (the same two sentences, swapped) as tempting as possible
    _, kept, rejected = run(rows, threshold=0.3)
    assert len(kept) + len(rejected) == 600 and len(kept) > 500
    for reject_id, (reason, detail) in rejected.items():
        kept_id = DETAIL[reason].match(detail).group(1)
        assert kept_id.rsplit(":", 1)[0] != reject_id.rsplit(":", 1)[0]  # never the same Tanaka line
        assert kept_id.rsplit(":", 1)[1] == reject_id.rsplit(":", 1)[1]  # always the same direction


def test_groups_of_a_cluster_are_merged_to_the_smallest():
    # line 7 and line 3 are near duplicates in both directions: one of each direction survives,
    # and all survivors of both pairs end up in the group of the smallest name.
    rows = _tanaka_pair(7, "彼は昨日東京駅で古い友人に偶然会いました。",
                        "he happened to meet an old friend at tokyo station yesterday .")
    rows += _tanaka_pair(3, "彼は昨日東京駅で古い友人に偶然会いました!",
                         "he happened to meet an old friend at tokyo station yesterday .")
    rows.append(record("x:1", KYOTO_Q, KYOTO_A))
    outcome, kept, rejected = run(rows)
    assert {reason for reason, _ in rejected.values()} <= {"exact_duplicate", "near_duplicate"}
    assert len(rejected) == 2
    groups = dict(outcome.result.kept.select("id", "group").iter_rows())
    assert {groups[i] for i in kept if i.startswith("tanaka")} == {"tanaka:3"}
    assert groups["x:1"] == "x:1"
    assert outcome.result.extra_stats["dedup"]["groups_merged"] == 1


def test_the_kept_record_follows_source_priority_then_output_length_then_id():
    rows = [
        record("zeta:1", FUJI_Q, FUJI_A + "以上です。"),
        record("alpha:1", FUJI_Q, FUJI_A),
        record("alpha:2", FUJI_Q, FUJI_A),
    ]
    _, kept_by_priority, _ = run(rows, source_priority=["alpha"])
    assert kept_by_priority == {"alpha:1"}                      # listed source wins over a longer output
    _, kept_by_length, _ = run(rows, source_priority=[])
    assert kept_by_length == {"zeta:1"}                         # then the longest output
    _, kept_by_id, _ = run(rows[1:], source_priority=[])
    assert kept_by_id == {"alpha:1"}                            # then the smallest id


def test_the_threshold_changes_the_result():
    rows = [record("a:1", KYOTO_Q, KYOTO_A),
            record("a:2", KYOTO_Q, KYOTO_A.replace("清水寺や金閣寺などの寺社", "多くの有名な寺や神社"))]
    _, kept_strict, _ = run(rows, threshold=0.9, verify="signature")
    _, kept_loose, _ = run(rows, threshold=0.6, verify="signature")
    assert kept_strict == {"a:1", "a:2"} and len(kept_loose) == 1


def test_key_fields_are_a_parameter():
    rows = [record("a:1", "富士山について説明してください。", FUJI_A),
            record("a:2", "日本一高い山について教えて。", FUJI_A)]
    _, kept_all, _ = run(rows)
    _, kept_output, rejected = run(rows, fields=["output"])
    assert kept_all == {"a:1", "a:2"}
    assert len(kept_output) == 1 and [r for r, _ in rejected.values()] == ["exact_duplicate"]


@pytest.mark.parametrize("params, message", [
    ({"threshold": 1.5}, "dedup.threshold"),
    ({"bands": 20}, "give both"),
    ({"bands": 20, "rows": 10}, "exceeds dedup.num_perm"),
    ({"verify": "fuzzy"}, "dedup.verify"),
    ({"ngram": 0}, "dedup.ngram"),
    ({"field_overlap": 2}, "dedup.field_overlap"),
    ({"fields": ["body"]}, "no column 'body'"),
])
def test_bad_params_are_one_line_errors(params, message):
    with pytest.raises(InputError, match=re.escape(message)):
        dedup_records(frame([record("a:1", FUJI_Q, FUJI_A)]), params)


def test_exact_verification_reports_the_true_jaccard_of_the_n_gram_sets():
    # keys already in canonical form (no whitespace, folded punctuation), so the sets below are the real ones
    first = "日本の首都はどこですか東京です東京は関東地方にあり日本で最も人口の多い都市です"
    second = "日本の首都はどこですか東京です東京は関東地方にあり日本で一番人口の多い都市です"
    rows = [record("a:1", first, ""), record("a:2", second, "")]
    outcome, kept, rejected = run(rows, verify="exact", threshold=0.6, containment=0)
    grams = [{text[i:i + 5] for i in range(len(text) - 4)} for text in (first, second)]
    expected = len(grams[0] & grams[1]) / len(grams[0] | grams[1])
    assert kept == {"a:1"}
    assert rejected["a:2"] == ("near_duplicate", f"near duplicate of a:1 (jaccard {expected:.2f}, exact Jaccard)")
    assert outcome.clusters.filter(id="a:2")["similarity"].item() == pytest.approx(expected)


def _grams(text: str, n: int) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)}


# Repetitive text: one phrase said forty times, then a sentence; and that sentence
# followed by another one. Their 5-gram sets share only the first sentence.
REPEATED = "ありがとう" * 40 + "今日は天気が良いので公園まで散歩に行きました"
OTHER = "今日は天気が良いので公園まで散歩に行きました。明日は図書館で本を読む予定です"


def test_distinct_shingle_counts_are_set_sizes():
    # a long text of many distinct n-grams, some repeated, so the counting table probes and wraps
    varied = "".join(chr(0x4E00 + (i * 7919) % 1500) for i in range(4000))
    # NUL characters: an n-gram of NULs hashes to 0, the table's empty mark, and is counted apart
    nuls = "\x00" * 7 + "a\x00\x00b" + "\x00" * 5 + "c"
    texts = [REPEATED, OTHER, "", "abc", "aaaaaaa", "𠮷𠮷𠮷𠮷𠮷𠮷", varied, OTHER * 3, nuls, "\x00", "x\x00"]
    for n in (1, 2, 5):
        assert distinct_shingle_counts(texts, n).tolist() == [len(_grams(text, n)) for text in texts]


def test_repetitive_text_is_not_taken_for_contained():
    a, b = _grams(REPEATED, 5), _grams(OTHER, 5)
    # the real sets: neither is nearly contained in the other, nor similar
    assert len(a & b) / min(len(a), len(b)) < 0.7 and len(a & b) / len(a | b) < 0.45
    pair = [record("r:1", "", REPEATED), record("r:2", "", OTHER)]
    # 64 bands of 2 make the pair a certain candidate; exact verification rules out estimation noise
    outcome = dedup_records(frame(pair), {**PARAMS, "verify": "exact", "bands": 64, "rows": 2})
    assert outcome.result.rejected.height == 0 and outcome.result.kept["id"].to_list() == ["r:1", "r:2"]
    assert outcome.index["shingles"].to_list() == [len(a), len(b)]


def test_field_overlap_uses_distinct_bigrams():
    # the instruction fields share only "ね" bigrams; by positions the repeated one looked contained
    first = record("f:1", "ねえねえ" * 30 + "この花の名前を教えて", FUJI_A)
    second = record("f:2", "ねえ、あの山の高さは？", FUJI_A)
    a, b = _grams(first["instruction"], 2), _grams(second["instruction"], 2)
    assert len(a & b) / min(len(a), len(b)) < 0.5
    settings = resolve_settings({"field_overlap": 0.5})
    features = key_features(frame([first, second]), settings)
    assert features.sizes[:, 0].tolist() == [len(a), len(b)]
    pair = np.array([0]), np.array([1])
    assert not fields_agree(features.fields, features.sizes, *pair, 0.5)[0]
    assert fields_agree(features.fields, features.sizes, *pair, 0.0)[0]  # the check itself is what refuses


def _canonical_by_hand(text: str) -> str:
    """The documented key rules written out plainly: polars' NFKC, one-character lower case,
    the punctuation folds of keys.py, whitespace removed."""
    folds = {"。": ".", "．": ".", "、": ",", "，": ",", "「": '"', "」": '"', "『": '"', "』": '"', "“": '"',
             "”": '"', "‘": '"', "’": '"', "'": '"', "〜": "~", "～": "~", "【": "[", "】": "]"}
    nfkc = pl.Series([text]).str.normalize("NFKC").item()
    out = []
    for char in nfkc:
        if char.isspace():
            continue
        lower = char.lower() if len(char.lower()) == 1 else char
        out.append(folds.get(lower, lower))
    return "".join(out)


@pytest.mark.parametrize("text", [
    "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ",                 # half-width kana + voiced marks: composed by NFKC across characters
    "か\u3099き\u309aＡＢＣ１２３！？",   # combining voiced marks after full-width kana
    "①㍻ﬁ℃ ㌔　全角スペース",          # one character to several
    "e\u0301 cafe\u0301 Å",             # combining accents
    "ㄱㅏ 가\u11a8 \u1100\u1161",       # Hangul: compatibility and conjoining jamo compose
    "𠮷野家の「牛丼」、美味しい。",        # outside the BMP
    "ABC def。「引用」、〜ＸＹＺ〜",     # only table characters
    "\ua7f1 after",                     # unassigned in Python's Unicode tables, assigned in polars'
])
def test_canonical_texts_follow_the_rules_on_both_paths(text):
    # the table path (characters whose NFKC needs no context) and polars' NFKC path must agree
    assert canonical_texts(pl.Series([text])).item() == _canonical_by_hand(text)
    mixed = pl.Series([text, "ABC def。", text + "ｶﾞ"])
    assert canonical_texts(mixed).to_list() == [_canonical_by_hand(t) for t in mixed.to_list()]


def test_key_tables_from_the_cache_file_equal_freshly_built_ones(tmp_path, monkeypatch):
    from jinstruct.dedup import keys
    monkeypatch.setenv("JINSTRUCT_CACHE_DIR", str(tmp_path))
    built = keys._cached_tables()  # nothing cached yet: built and stored
    assert len(list(tmp_path.glob("dedup-key-tables-*.npz"))) == 1
    loaded = keys._cached_tables()
    fold = keys._fold_table()
    fused, safe = keys._nfkc_tables(fold)
    for tables in (built, loaded):
        assert np.array_equal(tables[0], fold) and np.array_equal(tables[1], fused) and np.array_equal(tables[2], safe)
    assert safe.dtype == loaded[2].dtype and fused.dtype == loaded[1].dtype
    # a damaged file is rebuilt, not trusted
    next(tmp_path.glob("dedup-key-tables-*.npz")).write_bytes(b"not a table")
    assert np.array_equal(keys._cached_tables()[1], fused)
