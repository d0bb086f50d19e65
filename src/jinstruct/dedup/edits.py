"""Verifying a candidate pair by aligning its two keys: what changed, and whether that is an edit
a copy makes (typos, a sentence dropped, added or moved) or one that makes another record.

``verify: edits`` (the default) confirms an LSH candidate when, after a Levenshtein
alignment of the two canonical keys (rapidfuzz, compiled), the characters the two
keys share cover at least ``edit_share`` of the shorter key, and no small edit

- changes a number: a digit or kanji numeral (〇一二…十百千万億) in or next to it
  (dates and quantities are often written in kanji: 三月十日, 五人);
- adds or removes a negation (ない, ません, ず, ぬ, 不, 非, 無, 未) around it;
- changes who is meant: a personal pronoun replaced (彼 → 彼女), a kin or sex noun replaced,
  added or dropped (兄 → 姉, 先生と → 先生と父と) (_PERSON_WORDS, _person_changed);
- replaces a kanji word: both sides hold kanji and one side two or more, and the
  two sides are not the same characters swapped (佐藤→加藤 健一→浩二, 秋田→宮城,
  床→牛乳; a one-kanji typo or 思い→考え passes).

Large blocks (``_LARGE`` characters or more: whole sentences) are what a copy with a
sentence dropped or added differs by; they only lower the shared share, and a block
deleted from one key that occurs verbatim in the other is a moved sentence and
counts as shared. Why an alignment and not n-gram sets: one typo removes n n-grams
but one character of an alignment, and a substituted name, numeral or negation is a
handful of characters that n-gram similarity cannot tell from a typo.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, Indel, Levenshtein

if TYPE_CHECKING:
    from jinstruct.dedup.aligned import FieldTexts

_LARGE = 8
_DIGIT = re.compile(r"[0-9]")
_DIGITS = re.compile(r"[0-9]+")
_KANJI_NUMERAL = "〇一二三四五六七八九十百千万億"
# what follows a kanji numeral that is a number (三月, 五人, 十二日), not part of a word (一緒, 統一)
_COUNTER = set("年月日時分秒人個本枚回歳円冊台匹番位度割倍件点つ")
_NEGATION = re.compile(r"ない|ません|なかっ|不|非|無|未")
# between the fields of a key given to edit_verdict (canonical fields hold no whitespace): a field
# ends a sentence and a list
FIELD_SEPARATOR = "\n"
_SEPARATOR = set(',.:;!?"()[]/・~\n')
_LIST_SEPARATOR = set(",・/;\n")
_SENTENCE_END = re.compile(r"(?<=[.!?\n])(?<![0-9][.])")  # not after a list number (3.)
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")
_WORD_CHARS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々ァ-ヺa-z]")
_ENDS = ".!?\n"
_GAP = 1  # equal characters between two small edits that make them one edit (see _edits)
_CONTEXT = 2  # characters either side of a small edit read by the negation guard
_ITEM = 12  # longest list item (between separators) whose replacement the item guard refuses

ACCEPTED, NUMBER, NEGATION, KANJI_WORD, ITEM, TOO_DIFFERENT, PERSON = range(7)

# Words that say who is meant, by referent. Japanese marks person and kin with closed classes of
# nouns rather than with inflection: the personal pronouns (first, second and third person and
# their plurals, each in several registers: 私/僕/俺 all mean the speaker) and the kinship terms,
# each in a plain form for one's own family and a polite one for others' (父/お父さん, 妻/奥さん),
# see Kaiser, Ichikawa, Kobayashi & Yamamoto, Japanese: A Comprehensive Grammar (2nd ed.,
# Routledge 2013), the chapters on pronouns and on kinship and address terms, and Suzuki Takao,
# 『ことばと文化』 (Iwanami 1973) on self- and other-reference. Plus the nouns that say a person's
# sex (男/女, 男性/女性, 少年/少女). Changing one of these is one or two characters (彼 → 彼女,
# 兄 → 姉, 長男 → 長女) that no other guard reads, and it makes another statement: 「彼は医者です」 and
# 「彼女は医者です」 are two records. Forms of one referent (父, 父親, お父さん, パパ) are one label, so
# a change of register (私 → 僕, 父 → お父さん) is no change of who. Left out, because they are far
# more often part of other words than a person on their own: 子 (様子, 椅子), 親 (親切), 我 (我慢),
# 人; kana forms that are also other words (おれ in たおれる, きみ in きみょう). A few common words
# that hold a person kanji without meaning a person are listed with no referent, so that a typo in
# them (大丈夫, 工夫, 母音) is no person changed.
_PERSON_WORDS = {
    "speaker": "私 わたし わたくし あたし 僕 ぼく 俺 儂 小生",
    "speakers": "私たち 私達 わたしたち 私ども 僕たち 僕達 僕ら ぼくたち ぼくら 俺たち 俺達 俺ら 我々 われわれ 我ら",
    "addressee": "あなた 貴方 貴女 あんた 君 お前 おまえ 貴様",
    "addressees": "あなたたち あなた達 あなた方 あなたがた 君たち 君達 君ら お前たち お前ら おまえたち おまえら",
    "he": "彼",
    "she": "彼女",
    "they": "彼ら 彼等",
    "they_female": "彼女ら 彼女たち 彼女達",
    "boyfriend": "彼氏",
    "father": "父 父親 お父さん 父さん お父様 父上 親父 おやじ パパ おとうさん",
    "mother": "母 母親 お母さん 母さん お母様 母上 お袋 おふくろ ママ おかあさん",
    "parents": "両親 ご両親 父母",
    "elder_brother": "兄 兄貴 お兄さん 兄さん お兄ちゃん 兄上 おにいさん",
    "elder_sister": "姉 姉貴 お姉さん 姉さん お姉ちゃん 姉上 おねえさん",
    "younger_brother": "弟 弟さん おとうと",
    "younger_sister": "妹 妹さん いもうと",
    "brothers": "兄弟",
    "sisters": "姉妹",
    "son": "息子 息子さん むすこ",
    "daughter": "娘 娘さん むすめ お嬢さん",
    "eldest_son": "長男",
    "second_son": "次男",
    "eldest_daughter": "長女",
    "second_daughter": "次女",
    "child": "子供 子ども こども お子さん",
    "husband": "夫 ご主人 旦那 旦那さん おっと",
    "wife": "妻 家内 奥さん 奥様 女房 嫁",
    "couple": "夫婦 夫妻",
    "grandfather": "祖父 おじいさん おじいちゃん お祖父さん 祖父さん じいさん 爺さん お爺さん",
    "grandmother": "祖母 おばあさん おばあちゃん お祖母さん 祖母さん ばあさん 婆さん お婆さん",
    "grandparents": "祖父母",
    "grandchild": "孫 お孫さん",
    "uncle": "叔父 伯父 おじ おじさん 叔父さん 伯父さん",
    "aunt": "叔母 伯母 おば おばさん 叔母さん 伯母さん",
    "nephew": "甥 甥っ子",
    "niece": "姪 姪っ子",
    "male": "男 男性 男の人 男の方 男子 男児 男の子 少年 紳士",
    "female": "女 女性 女の人 女の方 女子 女児 女の子 少女 婦人 淑女",
    "": "大丈夫 丈夫 工夫 母国 母語 母音 酵母 私立 私鉄",  # not a person (see above)
}
PERSON_LABEL = {form: label for label, forms in _PERSON_WORDS.items() for form in forms.split()}
# Japanese leaves out a pronoun whose referent is understood (the subject or object "zero pronoun",
# Shibatani, The Languages of Japan, Cambridge 1990, ch. 11; Kaiser et al. 2013 on ellipsis):
# 「あなたの誕生日はいつですか」 and 「誕生日はいつですか」 ask the same thing. So a pronoun added or
# dropped is no other person; a pronoun replaced (彼 → 彼女, 私 → 私たち) and a kin or sex noun
# added or dropped (先生と話した → 先生と父と話した) are.
PRONOUNS = frozenset({"speaker", "speakers", "addressee", "addressees", "he", "she", "they", "they_female"})
# longest form first: at each position the longest form that matches is read (彼女 before 彼, 祖父 before 父)
_PERSON = re.compile("|".join(sorted(PERSON_LABEL, key=lambda form: (-len(form), form))))
# characters either side of a small edit read by the person guard: a form overlapping the edit fits
_PERSON_CONTEXT = max(map(len, PERSON_LABEL)) - 1


def _guard(a: str, b: str, i1: int, i2: int, j1: int, j2: int, digits: bool, numbers: bool) -> int:
    """Which guard (if any) a small edit a[i1:i2] → b[j1:j2] trips (``digits``: check digits;
    ``numbers``: numbers_must_match)."""
    left, right = a[max(i1 - _CONTEXT, 0):i2 + _CONTEXT], b[max(j1 - _CONTEXT, 0):j2 + _CONTEXT]
    old, new = a[i1:i2], b[j1:j2]
    if digits and (_DIGIT.search(old) or _DIGIT.search(new)) or \
            numbers and _counted(a, i1, i2) != _counted(b, j1, j2):
        return NUMBER
    if sorted(old) == sorted(new):  # characters swapped (a transposition typo), none added or lost
        return ACCEPTED
    if len(_NEGATION.findall(left)) != len(_NEGATION.findall(right)):
        return NEGATION
    if _person_changed(_persons(a, i1, i2), _persons(b, j1, j2)):
        return PERSON
    # a word replaced: both sides hold word characters (kanji, katakana, Latin letters) and one
    # side two or more (学校 → ホテル, 佐藤 → 加藤, apples → oranges); a one-character typo,
    # とても → 非常に, ください → 下さい (kana on one side) pass
    word_old, word_new = len(_WORD_CHARS.findall(old)), len(_WORD_CHARS.findall(new))
    if min(word_old, word_new) >= 1 and max(word_old, word_new) >= 2:
        return KANJI_WORD
    item_a, item_b = _item(a, i1, i2), _item(b, j1, j2)
    if (item_a and item_b and max(len(item_a), len(item_b)) <= _ITEM
            and Indel.normalized_similarity(item_a, item_b) < 0.5):
        return ITEM
    return ACCEPTED


def _persons(text: str, start: int, stop: int) -> tuple[Counter, set[str]]:
    """Who the person words around the edit text[start:stop] refer to (_PERSON_WORDS), read left to
    right, longest form first, in the edit and ``_PERSON_CONTEXT`` characters either side: (the
    referents counted, the referents of the words wholly within the edit)."""
    offset = max(start - _PERSON_CONTEXT, 0)
    found, within = Counter(), set()
    for match in _PERSON.finditer(text, offset, stop + _PERSON_CONTEXT):
        label = PERSON_LABEL[match.group()]
        if label:
            found[label] += 1
            if start <= match.start() and match.end() <= stop:
                within.add(label)
    return found, within


def _person_changed(a: tuple[Counter, set[str]], b: tuple[Counter, set[str]]) -> bool:
    """Does the edit add, drop or replace a person (_persons of each side)? Replaced: each side refers
    to someone the other does not (彼 → 彼女, 兄 → 姉, 私たち → 私). Added or dropped: a kin or sex
    noun the other side lacks lies wholly within the edit (先生と → 先生と父と); a pronoun added or
    dropped is not (PRONOUNS: Japanese drops understood ones). A typo inside a word (あなた → あなよ,
    お子さん → お子ん) breaks the word without naming anyone else: no change."""
    (found_a, within_a), (found_b, within_b) = a, b
    only_a, only_b = found_a - found_b, found_b - found_a
    return bool(only_a and only_b or (within_a & only_a.keys()) - PRONOUNS or (within_b & only_b.keys()) - PRONOUNS)


def _counted(text: str, start: int, stop: int) -> str:
    """The kanji numeral touching text[start:stop], when a counter follows it ("" otherwise)."""
    while start > 0 and text[start - 1] in _KANJI_NUMERAL:
        start -= 1
    while stop < len(text) and text[stop] in _KANJI_NUMERAL:
        stop += 1
    run = text[start:stop]
    numeral = "".join(ch for ch in run if ch in _KANJI_NUMERAL)
    return numeral if numeral and stop < len(text) and text[stop] in _COUNTER else ""


def _item(text: str, start: int, stop: int) -> str:
    """The list item around text[start:stop] ("" when it is not in one): the text between a list
    separator or a numbering ("3.") before it and the next list separator, a numbering or the end."""
    # the nearest separator before the edit (every character that opens an item is one);
    # rfind per separator character rather than a step per character: this ran per small edit
    start = max(text.rfind(separator, 0, start) for separator in _SEPARATOR) + 1
    if start == 0 or not _opens_item(text, start):
        return ""
    end = _ITEM_END.search(text, stop)
    return text[start:end.start() if end else len(text)]


_ITEM_END = re.compile(r"[,・/;\n0-9]")  # a list separator (_LIST_SEPARATOR) or a numbering's digit


def _opens_item(text: str, position: int) -> bool:
    before = text[position - 1]
    return before in _LIST_SEPARATOR or (before == "." and position > 1 and text[position - 2].isdigit())




def _edits(opcodes: list) -> Iterator[tuple[str, int, int, int, int]]:
    """The alignment's opcodes with small edits at most ``_GAP`` equal characters apart joined into one
    (tag "replace"), as long as the joined edit stays small on both sides.

    The alignment splits one change in several ways depending on the direction: 林美咲 → 鈴木明美
    comes out as insert 鈴木, replace 林 → 明, (美 equal), delete 咲, and each piece alone looks
    like a one-kanji typo; joined, it is one replaced name. A transposed pair of characters
    likewise comes out as an insert and a delete one character apart."""
    joined: list[list] = []
    for tag, i1, i2, j1, j2 in opcodes:
        last = joined[-1] if joined else None
        if tag != "equal" and last is not None and max(i2 - i1, j2 - j1) < _LARGE:
            # the previous small edit, possibly behind a short equal run
            edit = last if last[0] != "equal" else (joined[-2] if len(joined) > 1 and last[2] - last[1] <= _GAP
                                                    else None)
            if edit is not None and edit[0] != "equal" and max(edit[2] - edit[1], edit[4] - edit[3]) < _LARGE \
                    and max(i2 - edit[1], j2 - edit[3]) < _LARGE:
                if edit is not last:
                    joined.pop()
                edit[:] = ["replace", edit[1], i2, edit[3], j2]
                continue
        joined.append([tag, i1, i2, j1, j2])
        # only the last two entries can still be joined with what follows: hand out the rest now,
        # so that a verdict decided by an early edit does not wait for the whole alignment
        if len(joined) > 2:
            yield tuple(joined.pop(0))
    for edit in joined:
        yield tuple(edit)


def _split(text: str, cache: dict | None) -> tuple[list[str], list[str]]:
    """(text split after each sentence end (_SENTENCE_END; the last piece may be empty), its digit
    runs), once per text when a cache is given: a record takes part in several candidate pairs,
    and the split (a zero-width regex tried at every character) and the digit scan over the whole
    key were a third of the alignment's cost."""
    if cache is None:
        return _SENTENCE_END.split(text), _DIGITS.findall(text)
    found = cache.get(text)
    if found is None:
        if len(cache) >= _CACHED_TEXTS:  # bounded: the keys of a large build are held once already
            cache.clear()
        found = cache[text] = (_SENTENCE_END.split(text), _DIGITS.findall(text))
    return found


_CACHED_TEXTS = 50_000


def _unshared(left: list[str], right: list[str]) -> tuple[int, str, str]:
    """(characters of the sentences both hold, each side's other sentences in order).

    A sentence counts as many times as both hold it: one can occur twice in a key (an answer
    quoting its passage), and a set would pair both copies with the other key's one. When
    neither side repeats a sentence (nearly always) the multiset intersection is the set
    intersection, and sets are much cheaper to build than Counters; the result is the same."""
    set_left, set_right = set(left), set(right)
    if len(set_left) == len(left) and len(set_right) == len(right):
        both = set_left & set_right
        if not both:
            return 0, "".join(left), "".join(right)
        return (sum(map(len, both)), "".join([s for s in left if s not in both]),
                "".join([s for s in right if s not in both]))
    common = Counter(left) & Counter(right)
    shared = sum(len(sentence) * count for sentence, count in common.items())
    return shared, _without(left, common), _without(right, common)


def _without(sentences: list[str], common: Counter) -> str:
    """The sentences in order, less the first ``common[s]`` occurrences of each s."""
    left = Counter(common)
    kept = []
    for sentence in sentences:
        if left[sentence] > 0:
            left[sentence] -= 1
        else:
            kept.append(sentence)
    return "".join(kept)


def edit_verdict(a: str, b: str, share: float, numbers: bool = True, field_share: float = 0.0,
                 cache: dict | None = None) -> tuple[int, float]:
    """(verdict, shared characters / shorter key length) of one pair of canonical keys.
    ``cache`` (text → its sentences and digit runs) lets the pairs of one record split it once.

    Keys joined with FIELD_SEPARATOR are also judged field by field: each field must be
    accepted on its own with at least ``field_share`` of the shorter one shared, and both
    fields empty or neither. Why: a short record's instruction is often a template
    ("次の日本語の文を英語に翻訳してください。") longer than its content, so the whole key
    of two different one-line translations shares 85% through the template alone (the
    Tanaka corpus lost 17k records that way); the signature rule has fields_agree for the
    same reason."""
    if FIELD_SEPARATOR in a or FIELD_SEPARATOR in b:
        fields_a, fields_b = a.split(FIELD_SEPARATOR), b.split(FIELD_SEPARATOR)
        if len(fields_a) == len(fields_b):
            shared = 0.0
            for field_a, field_b in zip(fields_a, fields_b):
                if not field_a and not field_b:
                    continue
                verdict, measured = _key_verdict(field_a, field_b, field_share, numbers, cache)
                if verdict != ACCEPTED:
                    return verdict, measured
                shared += measured * min(len(field_a), len(field_b))
            measured = min(shared / max(min(len(a), len(b)) - len(fields_a) + 1, 1), 1.0)
            return (ACCEPTED if measured >= share else TOO_DIFFERENT), measured
    return _key_verdict(a, b, share, numbers, cache)


def _key_verdict(a: str, b: str, share: float, numbers: bool, cache: dict | None = None) -> tuple[int, float]:
    """edit_verdict of one text (a key, or one field); ``cache``: texts already split (_split)."""
    shorter = min(len(a), len(b))
    if shorter == 0:
        return (ACCEPTED, 1.0) if a == b else (TOO_DIFFERENT, 0.0)
    sentences_a, digits_a = _split(a, cache)
    sentences_b, digits_b = _split(b, cache)
    # digits moved by a typo (1番 → 番1) change no number: only look at them when they differ
    digits = numbers and digits_a != digits_b
    # sentences found verbatim in the other key are shared wherever they stand (moved, or
    # around a dropped or added one); only the rest is aligned character by character
    shared, a, b = _unshared(sentences_a, sentences_b)
    changed_a = changed_b = 0  # characters of each side changed by edits (whole sentences excepted)
    for tag, i1, i2, j1, j2 in _edits(Levenshtein.opcodes(a, b)):
        if tag == "equal":
            shared += i2 - i1
        elif tag == "delete" and _sentences_at(a, i1, i2) or tag == "insert" and _sentences_at(b, j1, j2):
            continue  # whole sentences dropped or added, however short ("明日は雨です.")
        elif i2 - i1 >= _LARGE or j2 - j1 >= _LARGE:
            # a whole sentence dropped, added or moved: moved text occurs verbatim in the other key
            if tag == "delete" and a[i1:i2] in b or tag == "insert" and b[j1:j2] in a:
                shared += max(i2 - i1, j2 - j1)
            elif not (_whole_sentences(a, i1, i2) and _whole_sentences(b, j1, j2)):
                # a phrase added inside a sentence ("absent" → "absent from school") is no
                # dropped or added sentence: it counts as changed text
                changed_a, changed_b = changed_a + i2 - i1, changed_b + j2 - j1
        else:
            verdict = _guard(a, b, i1, i2, j1, j2, digits, numbers)
            if verdict != ACCEPTED:
                return verdict, shared / shorter
            changed_a, changed_b = changed_a + i2 - i1, changed_b + j2 - j1
    # shared over shared + the larger side's changes: whole sentences dropped or added cost
    # nothing (the shorter key is in the longer), but text inserted within sentences does,
    # on whichever side it is (私は来年外国にいきたい / 外国へいきたい)
    measured = min(shared / max(shared + max(changed_a, changed_b), 1), 1.0)
    return (ACCEPTED if measured >= share else TOO_DIFFERENT), measured


def _sentences_at(text: str, start: int, stop: int) -> bool:
    """Is text[start:stop] one or more whole sentences: from a sentence start to a sentence end?"""
    return (start == 0 or text[start - 1] in _ENDS) and (stop == len(text) or text[stop - 1] in _ENDS)


def _whole_sentences(text: str, start: int, stop: int) -> bool:
    """Is text[start:stop] empty or a sentence's end: ending with a sentence end, or at the end
    of the text? Not where it starts: a sentence appended to a list without a full stop
    ("5.日本酒" + "白いシャツを着た女性が….") starts mid-line. A phrase inserted into a
    sentence ("absent" → "absent from school") ends before the sentence does."""
    return start == stop or stop == len(text) or text[stop - 1] in _ENDS


# katakana words at least this long may differ by one typo and still be the same word (verify: edits)
_TYPO_WORD = 4


def names_within_typo(left: str, right: str) -> bool:
    """names_must_match under verify: edits, for a pair the set rule refused (words joined by spaces,
    keys.joined_names_expr): do one record's katakana words all occur in the other's, counting a word
    of ``_TYPO_WORD`` or more characters one edit (a character replaced, added, dropped, or two
    swapped) from one of the other's as the same word?

    A one-character typo in a katakana word (レントゲゲン, ショピッング) makes a word the other
    record lacks, and the set rule then reads it as a replaced name. Names of two or three
    characters (トム/トモ, ケン/ケイ, マリア/マリオ) stay apart: one character there is
    another name."""
    a, b = set(left.split()), set(right.split())

    def covered(words: set[str], other: set[str]) -> bool:
        return all(word in other or len(word) >= _TYPO_WORD and any(
            len(candidate) >= _TYPO_WORD and OSA.distance(word, candidate, score_cutoff=1) <= 1
            for candidate in other) for word in words)
    return covered(a, b) or covered(b, a)


# Separate edit regions a copy may carry (typos, a dropped, added or moved sentence), and
# the margin for the MinHash estimate of the overlap (std of a Jaccard estimate at 128
# permutations ≈ 0.04; the overlap derived from it moves up to twice as much)
_MOST_EDITS = 8
_ESTIMATE_MARGIN = 0.1


def could_align(jaccard: np.ndarray, size_a: np.ndarray, size_b: np.ndarray, share: float, n: int) -> np.ndarray:
    """Per pair: can the keys share ``share`` of the shorter one, judging by their n-gram sets?

    The alignment is the costly step (~0.2 ms a pair in Python), and most LSH candidates of
    long records are records sharing a few sentences, far from a copy. A copy that shares
    ``share`` of the shorter key's L characters differs in at most (1 − share)·L
    characters, in at most ``_MOST_EDITS`` separate places; each place also breaks the n − 1
    n-grams that straddle it. So at least 1 − (1 − share) − _MOST_EDITS·(n − 1)/L of the
    shorter key's n-grams are in the other key's set: pairs whose estimated overlap is below
    that (less the estimate's margin) are not aligned. For an 80-character key the floor is
    about 0.33, for a 1,300-character one 0.70."""
    from jinstruct.dedup.lsh import overlap_from_jaccard
    smaller = np.maximum(np.minimum(size_a, size_b).astype(np.float64), 1.0)
    floor = 1.0 - (1.0 - share) - _MOST_EDITS * (n - 1) / smaller - _ESTIMATE_MARGIN
    return overlap_from_jaccard(jaccard, size_a, size_b) >= floor


def edits_confirm(keys: list[str] | pl.Series | FieldTexts, left: np.ndarray, right: np.ndarray, share: float,
                  numbers: bool = True, field_share: float = 0.0, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of rows into ``keys`` (a list, a string column read from its Arrow buffers, or
    aligned.FieldTexts: the raw key fields, folded into keys by the batches, as run.py passes them):
    (confirmed, verdict code), compiled (aligned.py: the same rules on code-point arrays, ~8×
    faster than calling edit_verdict per pair on 1.3 KB records).

    The pairs are judged in batches on ``n_jobs`` threads: every compiled step releases the GIL.
    (Forked processes did this before; they needed the keys as a Python list, made and shared
    with each child at a cost of seconds on 500k records, and could not run in a Ray driver.)
    Each batch's verdicts land in its own slice, so the result is the same whatever ``n_jobs`` is."""
    from jinstruct.dedup.aligned import verdicts  # aligned.py imports this module's verdict codes
    if len(left) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int8)
    found = verdicts(keys, left, right, share, numbers, field_share, n_jobs=n_jobs)[0]
    return found == ACCEPTED, found
