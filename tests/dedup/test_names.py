"""names_must_match: records that differ by a replaced katakana word are not near duplicates."""

from __future__ import annotations

import polars as pl
import pytest

from jinstruct.dedup import dedup_records
from jinstruct.dedup.index import write_index
from jinstruct.dedup.keys import canonical_texts, names_expr
from jinstruct.records import InputError
from tests.support.dedup import frame, record

PARAMS = {"threshold": 0.8, "n_jobs": 1}

# A template long enough that filling it with another two-character name leaves a
# 5-gram Jaccard near 0.88, above the 0.8 threshold: only the names rule tells them apart.
PERSON_Q = "{name}はどのような人物ですか？家族や友人との関係も説明してください。"
PERSON_A = ("{name}は多くの人に知られた人物です。家族や古くからの友人と長い付き合いがあり、その活動は今も地元で"
            "語り継がれています。若い頃から人柄の良さで知られ、困っている人がいれば必ず手を差し伸べたそうです。")


def person(record_id: str, name: str) -> dict:
    return record(record_id, PERSON_Q.format(name=name), PERSON_A.format(name=name), task="creative_writing")


def outcome_of(rows: list[dict], **overrides):
    outcome = dedup_records(frame(rows), {**PARAMS, **overrides})
    rejected = dict(outcome.result.rejected.select("id", "reason").iter_rows())
    return set(outcome.result.kept["id"]), rejected, outcome.result.extra_stats["dedup"]


def names_of(text: str) -> list[str]:
    return canonical_texts(pl.Series("text", [text])).to_frame().select(names_expr(pl.col("text"))).item().to_list()


def test_katakana_words_of_a_key():
    # half width composes to full width (NFKC, ﾋﾟ → ピ, ｳﾞ → ヴ); a trailing ー is folded; ・ separates
    # words; ヶ alone, a lone ー and ー after hiragana are not words; sorted and unique
    assert names_of("ｺﾝﾋﾟｭｰﾀｰとコンピュータ、ジョン・スミスは3ヶ月ーーすごーい。ｳﾞｧｲｵﾘﾝ!") == [
        "コンピュータ", "ジョン", "スミス", "ヴァイオリン"]
    assert names_of("トムとケンのメール") == ["ケン", "トム", "メール"]
    assert names_of("日本の首都は東京です。") == []


def test_template_records_differing_only_in_a_name_are_both_kept():
    rows = [person("p:1", "トム"), person("p:2", "ケン"), person("p:3", "マリア"), person("p:4", "ジャンヌ")]
    assert outcome_of(rows)[:2] == ({"p:1", "p:2", "p:3", "p:4"}, {})  # verify: edits (its word guard)
    kept, rejected, stats = outcome_of(rows, verify="signature")  # the names rule alone keeps them
    assert kept == {"p:1", "p:2", "p:3", "p:4"} and rejected == {}
    assert stats["names_refused"] >= 1  # LSH pairs at least two of the three


def test_without_the_rule_the_name_template_pair_is_merged():
    rows = [person("p:1", "トム"), person("p:2", "ケン")]
    kept, rejected, stats = outcome_of(rows, names_must_match=False, verify="signature")
    assert len(kept) == 1 and list(rejected.values()) == ["near_duplicate"]
    assert stats["names_refused"] == 0
    _, _, guarded = outcome_of(rows, verify="signature")
    assert guarded["names_refused"] == 1


@pytest.mark.parametrize("copy_first", [False, True])  # the containment may run either way in a pair
def test_a_copy_that_adds_a_katakana_word_is_still_a_near_duplicate(copy_first):
    rows = [
        person("p:1", "トム"),
        # a prefix and an appended sentence naming ウィキペディア: more words, none replaced
        record("p:2", "質問：" + PERSON_Q.format(name="トム"),
               PERSON_A.format(name="トム") + "詳しくはウィキペディアを参照してください。", task="creative_writing"),
    ]
    kept, rejected, stats = outcome_of(rows[::-1] if copy_first else rows)
    assert kept == {"p:2"} and rejected == {"p:1": "near_duplicate"}
    assert stats["names_refused"] == 0


def test_width_and_long_vowel_variants_of_a_name_still_match():
    base = record("w:1", "コンピューターの歴史を簡単に説明してください。",
                  "最初のコンピューターは大きな部屋を埋めるほどの機械でした。その後、トランジスタと集積回路の発明によって"
                  "小さく安くなり、今では誰もが手のひらに収まるスマートフォンを持ち歩いています。",
                  task="open_qa")
    half_width = record("w:2", "ｺﾝﾋﾟｭｰﾀｰの歴史を簡単に説明してくだい。",  # half width, and a typo: not an exact copy
                        base["output"], task="open_qa")
    short_vowel = record("w:3", base["instruction"].replace("コンピューター", "コンピュータ"),
                         base["output"].replace("コンピューター", "コンピュータ"), task="open_qa")
    kept, rejected, stats = outcome_of([base, half_width, short_vowel])
    assert kept == {"w:1"} and rejected == {"w:2": "near_duplicate", "w:3": "near_duplicate"}
    assert stats["names_refused"] == 0


def test_words_fused_by_a_dropped_particle_or_space_still_match():
    question = "ネガティブなイメージを持たれがちなジョン・スミスの功績を、具体的な例を挙げて説明してください。"
    answer = ("ジョン・スミスは批判も多い人物でしたが、地域の学校を建て直し、多くの若者に働く場所を用意しました。"
              "その取り組みは今も地元の人々に感謝され、記念の行事が毎年開かれています。")
    rows = [record("f:1", question, answer),
            # a typo drops な: ネガティブ and イメージ fuse into one word
            record("f:2", question.replace("ネガティブなイメージ", "ネガティブイメージ"), answer),
            # ジョン スミス written with a space, which the key drops, and an appended sentence with a new word
            record("f:3", question.replace("・", " "),
                   answer.replace("・", " ") + "詳しくはウィキペディアをご覧ください。")]
    assert names_of(rows[0]["instruction"]) == ["イメージ", "ジョン", "スミス", "ネガティブ"]
    assert names_of(rows[1]["instruction"]) == ["ジョン", "スミス", "ネガティブイメージ"]
    assert names_of(rows[2]["instruction"] + rows[2]["output"]) == ["イメージ", "ウィキペディア", "ジョンスミス",
                                                                    "ネガティブ"]
    kept, rejected, stats = outcome_of(rows)
    assert kept == {"f:3"} and rejected == {"f:1": "near_duplicate", "f:2": "near_duplicate"}
    assert stats["names_refused"] == 0


def test_a_name_inside_a_longer_name_is_another_name():
    # the benchmark's hard negatives include such pairs: ムービー/トムービー, パブリック/パブリッククラウ
    rows = [person("p:1", "トム"), person("p:2", "トムソン")]
    kept, rejected, stats = outcome_of(rows)
    assert kept == {"p:1", "p:2"} and stats["names_refused"] == 1


@pytest.fixture()
def index_with_tom(tmp_path):
    outcome = dedup_records(frame([person("r1:1", "トム")]), PARAMS)
    assert outcome.index["names"].to_list() == ["トム"]
    path = tmp_path / "dedup_index.parquet"
    write_index(outcome.index, outcome.identity, path)
    return path, outcome.identity


def test_the_previous_release_check_applies_the_same_rule(index_with_tom):
    path, _ = index_with_tom
    rows = [person("r2:1", "ケン"),  # another person: new
            record("r2:2", "質問：" + PERSON_Q.format(name="トム"), PERSON_A.format(name="トム"),
                   task="creative_writing")]  # a copy of 1.0's record with a prefix
    kept, rejected, stats = outcome_of(rows, previous_index=str(path))
    assert kept == {"r2:1"} and rejected == {"r2:2": "duplicate_of_previous_release"}
    assert stats["previous_release_names_refused"] == 1
    kept_unguarded, rejected_unguarded, _ = outcome_of(rows, previous_index=str(path), names_must_match=False)
    assert kept_unguarded == set() and set(rejected_unguarded.values()) == {"duplicate_of_previous_release"}


def test_an_index_without_katakana_words_is_refused(index_with_tom):
    path, identity = index_with_tom
    old = pl.read_parquet(path).drop("names")
    write_index(old, {**identity, "key_version": 1}, path)  # what a build before the rule wrote
    with pytest.raises(InputError, match="key_version"):
        dedup_records(frame([person("r2:1", "ケン")]), {**PARAMS, "previous_index": str(path)})


def test_compiled_joined_names_equal_the_polars_expression():
    import random

    from jinstruct.dedup.keys import joined_names, joined_names_expr
    rng = random.Random(4)
    pieces = ["トム", "ケン", "コンピューター", "ー", "ーー", "ア", "ヽ", "ヾ", "ㇰ", "ㇿ", "ヺ", "ァ", "・", "の",
              "は", "すごーい", "ヶ", "漢字", "abc", "3", "ジョン", "スミス", "メール", "トムソン", "\U0001F600", ""]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(2000)]
    keys = pl.Series("key", texts)
    expected = keys.to_frame().select(joined_names_expr(pl.col("key"))).to_series()
    assert joined_names(keys).to_list() == expected.to_list()
    assert sum(" " in names for names in expected.to_list()) > 100  # many keys hold several words
    # and some hold two different words with the same first 7 characters (ordered past their _word_key)
    assert any(len({word[:7] for word in names.split(" ")}) < len(names.split(" ")) for names in expected.to_list())
