"""verify: edits — which edits make a copy and which make another record (dedup/edits.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from jinstruct.dedup import aligned, dedup_records
from jinstruct.dedup.edits import (
    ACCEPTED,
    ITEM,
    KANJI_WORD,
    NEGATION,
    NUMBER,
    PERSON,
    TOO_DIFFERENT,
    could_align,
    edit_verdict,
    edits_confirm,
    names_within_typo,
)
from jinstruct.dedup.keys import canonical_texts
from tests.support.dedup import FUJI_A, FUJI_Q, KYOTO_A, frame, record

STORY = ("佐藤健一さんは三月十日に京都へ行きました。清水寺の近くで古い友人と会いました。"
         "二人は昼ご飯を食べながら昔の話をしています。夕方には新幹線で東京に帰りました。")
CHOICES = "次の質問に答えてください。開閉できるものはどれ？選択肢：1.原っぱ、2.床、3.扉、4.壁、5.廊下"


def _verdict(first: str, second: str, share: float = 0.85) -> tuple[int, float]:
    a, b = canonical_texts(pl.Series([first, second])).to_list()
    return edit_verdict(a, b, share)


@pytest.mark.parametrize("copy", [
    STORY.replace("古い", "ふるい", 1).replace("昔", "むかし", 1),       # typos / spelling variants
    STORY.replace("清水寺の近くで", "清水寺の近くえ"),                      # one wrong kana
    STORY.replace("清水寺の近くで古い友人と会いました。", ""),               # a sentence dropped
    STORY + "とても楽しい一日でした。",                                      # a sentence added
    STORY.replace("二人は昼ご飯を食べながら昔の話をしています。夕方には新幹線で東京に帰りました。",
                  "夕方には新幹線で東京に帰りました。二人は昼ご飯を食べながら昔の話をしています。"),  # reordered
    CHOICES.replace("廊下", "廊下 "),                                        # layout only
])
def test_copies_are_accepted(copy):
    assert _verdict(STORY if not copy.startswith("次の") else CHOICES, copy)[0] == ACCEPTED


@pytest.mark.parametrize(("other", "guard"), [
    (STORY.replace("三月十日", "三月二十日"), NUMBER),                        # a date in kanji numerals
    (STORY.replace("二人は", "三人は"), NUMBER),                              # a count
    (STORY.replace("話をしています", "話をしていません"), NEGATION),
    (STORY.replace("佐藤健一", "加藤浩司"), KANJI_WORD),                      # another person
    (STORY.replace("京都", "奈良"), KANJI_WORD),                              # another place
    (CHOICES.replace("4.壁", "4.ハンガー"), KANJI_WORD),                      # a word replaced (kanji → katakana)
    (CHOICES.replace("4.壁", "4.まくら"), ITEM),                              # one answer choice replaced (kana)
    (STORY.replace("京都へ", "ホテルへ"), KANJI_WORD),                        # a place word replaced by a katakana one
])
def test_other_records_are_refused_by_the_guard_that_tells_them_apart(other, guard):
    base = CHOICES if other.startswith("次の") else STORY
    assert _verdict(base, other)[0] == guard


def test_the_shared_share_is_measured_on_the_shorter_key():
    # the shorter key is wholly inside the longer one: share 1, whatever is added
    assert _verdict(STORY, STORY + KYOTO_A) == (ACCEPTED, 1.0)
    # two unrelated texts: refused (a guard or the share, whichever the alignment meets first)
    assert _verdict(STORY, KYOTO_A)[0] != ACCEPTED
    assert _verdict("今日は晴れです。明日は雨です。", "今日は晴れです。")[0] == ACCEPTED
    verdict, share = _verdict("今日は晴れです。明日は雨です。", "昨日は曇りだったかもね。")
    assert verdict == TOO_DIFFERENT and share < 0.5
    # a sentence dropped: the shorter key is wholly inside the longer one
    dropped = STORY.replace("二人は昼ご飯を食べながら昔の話をしています。", "")
    assert _verdict(STORY + KYOTO_A, dropped) == (ACCEPTED, 1.0)


def test_kanji_name_pairs_are_kept_by_edits_and_merged_by_the_signature_rule():
    rows = [record("p:1", "佐藤健一さんからの質問です。" + FUJI_Q, "佐藤健一さん、" + FUJI_A),
            record("p:2", "加藤浩司さんからの質問です。" + FUJI_Q, "加藤浩司さん、" + FUJI_A),
            record("p:3", "佐藤健一さんからの質問です。" + FUJI_Q, "佐藤健一さん、" + FUJI_A.replace("美しい", "美い"))]
    edits = dedup_records(frame(rows), {"n_jobs": 1, "verify": "edits"})
    signature = dedup_records(frame(rows), {"n_jobs": 1, "verify": "signature", "threshold": 0.8})
    assert edits.result.rejected["id"].to_list() == ["p:3"]          # the typo copy, not the other person
    assert edits.result.rejected["detail"].item().startswith("near duplicate of p:1")
    assert sorted(signature.result.rejected["id"].to_list()) == ["p:2", "p:3"]


@pytest.mark.parametrize(("first", "second"), [
    ("林美咲", "鈴木明美"),      # the alignment cuts this in one-kanji pieces in one direction
    ("広島県", "鹿児島県"),      # insert 鹿, replace 広 → 児: two pieces of one place name
    ("奈良県", "神奈川県"),      # pieces one equal character apart
])
def test_a_name_replaced_is_refused_in_both_directions(first, second):
    base = STORY.replace("佐藤健一さんは", f"{first}さんは{first}の人で、")
    other = STORY.replace("佐藤健一さんは", f"{second}さんは{second}の人で、")
    assert _verdict(base, other)[0] == KANJI_WORD
    assert _verdict(other, base)[0] == KANJI_WORD


def test_transposed_characters_are_a_typo():
    assert _verdict(STORY, STORY.replace("清水寺", "水清寺"))[0] == ACCEPTED
    assert _verdict(CHOICES, CHOICES.replace("選択肢", "選肢択"))[0] == ACCEPTED
    # ... but not when they are digits: 12 → 21 is another number
    assert _verdict(STORY + "12人", STORY + "21人")[0] == NUMBER


def test_a_sentence_held_twice_is_matched_once():
    # the answer quotes its passage's sentence: a typo in the passage's copy must still be seen
    quoted = "清水寺の近くで古い友人と会いました。"
    base = STORY + "答えは次の文です。" + quoted
    copy = base.replace(quoted, "清水寺の近くで古い友人と会いまた。", 1)
    verdict, share = _verdict(base, copy)
    assert verdict == ACCEPTED and share > 0.97


def _choice_rows(last_choice: str) -> list[dict]:
    return [record("c:1", "次の質問に答えてください。開閉できるものはどれ？",
                   "正解は3番の「扉」です。", input="選択肢：1.原っぱ、2.床、3.扉、4.壁、5.廊下"),
            record("c:2", "次の質問に答えてください。開閉できるものはどれ？",
                   "正解は3番の「扉」です。", input=f"選択肢：1.原っぱ、2.床、3.扉、4.壁、5.{last_choice}")]


def test_the_last_answer_choice_ends_at_its_field():
    # joined without a separator, "5.廊下" ran on into "正解は…" and its replacement looked small
    replaced = dedup_records(frame(_choice_rows("机")), {"n_jobs": 1, "verify": "edits"})
    assert replaced.result.rejected.height == 0
    typo = dedup_records(frame(_choice_rows("廊か")), {"n_jobs": 1, "verify": "edits"})
    assert typo.result.rejected["id"].to_list() == ["c:2"]


@pytest.mark.parametrize(("jaccard", "size", "aligned"), [
    (0.15, 76, False),    # overlap 0.26 < floor 0.33 (80-character key)
    (0.30, 76, True),     # overlap 0.46
    (0.45, 1296, False),  # overlap 0.62 < floor 0.70 (1,300-character key)
    (0.70, 1296, True),   # overlap 0.82
])
def test_only_pairs_with_room_for_the_share_are_aligned(jaccard, size, aligned):
    sizes = np.array([size])
    assert could_align(np.array([jaccard]), sizes, sizes, 0.85, 5)[0] == aligned


@pytest.mark.parametrize(("left", "right", "same"), [
    ("カバン レントゲゲン", "カバン レントゲン", True),         # a doubled character
    ("ショピッングモール", "ショッピングモール", True),          # two characters swapped
    ("ミミツバチ", "ミツバチ", True),                          # one added
    ("シーソ ブンコ", "シーソ ブランコ", False),               # one dropped, but from a three-character word
    ("トム メール", "ケン メール", False),                     # another name
    ("トモ メール", "トム メール", False),                     # one character, but a short word: another name
    ("マリア", "マリオ", False),
    ("アメリカ ブラスカ", "アメリカ ネブラスカ ハワイ", True),  # one dropped, and the other has more words
    ("ウゼンナ", "ウインチ", False),                           # two characters replaced
])
def test_a_long_katakana_word_one_typo_away_is_the_same_word(left, right, same):
    assert names_within_typo(left, right) == same


def test_many_pairs_judged_on_threads_get_each_pairs_own_verdict(monkeypatch):
    # small batches, so that n_jobs threads each judge several; the verdicts follow from the
    # rules (docs/dedup.md), pair by pair, whichever thread judged them
    monkeypatch.setattr(aligned, "_BATCH_PAIRS", 300)
    texts = [STORY, STORY.replace("古い", "ふるい", 1), STORY.replace("二人は", "三人は"),
             STORY.replace("話をしています", "話をしていません"), STORY.replace("京都", "奈良"),
             STORY + "とても楽しい一日でした。"]
    keys = canonical_texts(pl.Series(texts)).to_list()
    expected_against_story = [ACCEPTED, ACCEPTED, NUMBER, NEGATION, KANJI_WORD, ACCEPTED]
    rng = np.random.default_rng(7)
    right = rng.integers(0, len(keys), size=5_000)
    left = np.zeros_like(right)
    for n_jobs in (1, 2):
        confirmed, verdicts = edits_confirm(keys, left, right, 0.85, n_jobs=n_jobs)
        assert verdicts.tolist() == [expected_against_story[j] for j in right.tolist()]
        assert confirmed.tolist() == [expected_against_story[j] == ACCEPTED for j in right.tolist()]


def test_a_sentence_repeated_in_one_key_only_is_shared_once():
    # the set shortcut must not count a repeated sentence twice: the repeated copy is text the
    # other key lacks, a whole added sentence (free), so the pair is accepted with share 1,
    # and a copy of it with a typo in the repeat is a small edit, still accepted
    sentence = "清水寺の近くで古い友人と会いました。"
    once, twice = _keys(STORY, STORY + sentence)
    assert edit_verdict(once, twice, 0.85) == (ACCEPTED, 1.0)
    with_typo, = _keys(STORY + sentence.replace("会いました", "会いまた"))
    verdict, share = edit_verdict(twice, with_typo, 0.85)
    assert verdict == ACCEPTED and share < 1.0


def _keys(*texts: str) -> list[str]:
    return canonical_texts(pl.Series(list(texts))).to_list()


# a daily routine whose subject is filled in: written for these tests, not taken from a benchmark set
ROUTINE = "{who}は毎朝六時に起きて、駅まで歩いてから電車で会社に通っています。帰りは夕方七時ごろになります。"


@pytest.mark.parametrize(("first", "second"), [
    ("彼", "彼女"), ("彼女", "彼"),                  # he / she: one kanji added or dropped
    ("私", "あなた"), ("僕", "君"),                  # I / you
    ("父", "母"), ("お父さん", "お母さん"),          # father / mother
    ("兄", "姉"), ("弟", "妹"), ("息子", "娘"), ("夫", "妻"), ("祖父", "父"),
    ("彼", "彼ら"), ("私", "私たち"),                # one person / several
    ("男の子", "女の子"), ("長男", "長女"), ("男性", "女性"),
    ("私の父", "私"),                                # a person dropped whole
])
def test_another_person_keeps_a_minimal_pair_apart(first, second):
    assert _verdict(ROUTINE.format(who=first), ROUTINE.format(who=second))[0] == PERSON
    assert _verdict(ROUTINE.format(who=second), ROUTINE.format(who=first))[0] == PERSON


def test_a_person_added_inside_a_sentence_is_another_record():
    base = ROUTINE.format(who="私")
    assert _verdict(base, base.replace("駅まで歩いて", "駅まで父と歩いて"))[0] == PERSON


@pytest.mark.parametrize(("first", "second"), [
    ("あなたの誕生日はいつですか。", "誕生日はいつですか。"),          # the understood "you" left out
    ("私は息子を医者にしたいと思っています。", "私は私の息子を医者にしたいと思っています。"),
])
def test_a_pronoun_left_out_is_the_same_sentence(first, second):
    # Japanese drops a pronoun whose referent is understood: no other person
    assert _verdict(first, second, 0.7)[0] == ACCEPTED


@pytest.mark.parametrize(("first", "second"), [
    ("私", "僕"), ("父", "お父さん"), ("母", "母親"), ("兄", "兄さん"),  # one person, another register
    ("おじ", "叔父"),                                                   # ... or another script
    ("あなた", "あなだ"), ("お母さん", "お母さ"),                       # a typo inside the word
    ("彼女", "彼女"),                                                   # the typos are elsewhere (below)
])
def test_one_person_in_another_form_or_with_a_typo_is_a_copy(first, second):
    copy = ROUTINE.format(who=second)
    if first == second:
        copy = copy.replace("彼女は", "彼女わ").replace("駅まで", "駅までで")
    assert _verdict(ROUTINE.format(who=first), copy)[0] == ACCEPTED


def test_a_person_kanji_inside_another_word_is_no_person():
    # 夫 in 大丈夫: a typo there (夫 → 失) changes no one
    text = "明日の会議は大丈夫ですか。資料は三部用意して、会議室の机に置いておきます。"
    assert _verdict(text, text.replace("大丈夫", "大丈失"))[0] == ACCEPTED
