"""A second labelled dedup corpus, independent of the first (bench/dedup_corpus.py).

Specification, written from issue #16's list before this code, and without
reading the dedup rules:

Base material (mirror, never a test split, none of the Dolly records the first
corpus is made of):
- JSQuAD v1.3 valid: one record per paragraph: instruction = its first
  question, input = the paragraph (title removed), output = the answer and the
  passage sentence holding it;
- JCommonsenseQA v1.3 train: instruction = the question and its five choices,
  output = the correct choice;
- JSTS v1.3 train: captions, for negation pairs and for added sentences.

Positives (a copy of one base record; ``truth`` = the base's id):
- ``typos``: 1 to 5 character edits anywhere (replace a character by one of
  the same script, delete one, double one, swap two neighbours);
- ``drop_sentence``: one sentence of a multi-sentence field removed;
- ``add_sentence``: one caption sentence inserted at a sentence boundary;
- ``reorder``: two neighbouring sentences swapped;
- ``paraphrase``: one to three register or synonym swaps (です/である,
  とても/非常に, しかし/だが, ください/下さい …).

Hard negatives (pairs of records that must both be kept; each its own truth;
both made from one base record that is itself left out):
- ``hard_person``: the same record asked by two different kanji-named people;
- ``hard_place``: about two different places (prefecture or city names);
- ``hard_date``: two different dates (kanji or ASCII numerals);
- ``hard_quantity``: two different counts (kanji or ASCII numerals);
- ``hard_negation``: a statement and its negation (います/いません …);
- ``hard_choice``: a multiple-choice question with one choice replaced.

Records are shuffled; ids do not reveal kinds.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import polars as pl

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "mirror"
JGLUE = MIRROR / "raw.githubusercontent.com/yahoojapan/JGLUE/6f071c09316baae89c3d083a90985b4b1cb9968c/datasets"
POSITIVE_KINDS = ("typos", "drop_sentence", "add_sentence", "reorder", "paraphrase")
HARD_KINDS = ("hard_person", "hard_place", "hard_date", "hard_quantity", "hard_negation", "hard_choice")

_SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
             "山口", "松本", "井上", "木村", "林", "斎藤", "清水"]
_GIVEN = ["太郎", "花子", "健一", "直子", "大輔", "美咲", "翔太", "陽菜", "誠", "恵子", "浩二", "由美", "拓也", "愛",
          "和夫", "明美", "雄一", "真由美", "隆", "幸子"]
_PLACES = ["北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県",
           "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県",
           "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県",
           "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県",
           "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県", "札幌", "仙台", "横浜", "名古屋", "神戸", "金沢", "松江",
           "博多", "那覇", "函館"]
_KANJI_DIGITS = "〇一二三四五六七八九"
_COUNTERS = ["人", "個", "冊", "台", "匹", "本", "枚", "回"]
_PARAPHRASES = [("です。", "である。"), ("とても", "非常に"), ("しかし", "だが"), ("ください", "下さい"),
                ("思います", "考えます"), ("など", "等"), ("ですか", "でしょうか"), ("できる", "可能な"),
                ("使う", "用いる"), ("また、", "さらに、"), ("ため", "ので"), ("とき", "際")]
_NEGATIONS = [("ています。", "ていません。"), ("います。", "いません。"), ("あります。", "ありません。"),
              ("ている。", "ていない。"), ("ある。", "ない。"), ("ます。", "ません。")]


def _kanji_number(value: int) -> str:
    """1..99 in kanji numerals as written in prose (十二, 二十, 三十五)."""
    tens, ones = divmod(value, 10)
    return (("" if tens < 2 else _KANJI_DIGITS[tens]) + ("十" if tens else "")
            + (_KANJI_DIGITS[ones] if ones else ""))


def _sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[。！？])", text) if part]


# ----------------------------------------------------------------- base records


def _jsquad() -> list[dict]:
    data = json.loads((JGLUE / "jsquad-v1.3/valid-v1.3.json").read_text(encoding="utf-8"))["data"]
    records = []
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].split(" [SEP] ", 1)[-1]
            qa = paragraph["qas"][0]
            answer = qa["answers"][0]["text"]
            holding = next((s for s in _sentences(context) if answer in s), "")
            records.append({"task": "reading_comprehension", "instruction": qa["question"], "input": context,
                            "output": f"答えは「{answer}」です。{holding}"})
    return records


def _commonsense() -> list[dict]:
    records = []
    for line in (JGLUE / "jcommonsenseqa-v1.3/train-v1.3.json").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        choices = [row[f"choice{i}"] for i in range(5)]
        records.append({"task": "multiple_choice", "choices": choices, "label": row["label"],
                        "question": row["question"]})
    return records


def _choice_record(question: str, choices: list[str], label: int) -> dict:
    listed = "、".join(f"{i + 1}.{choice}" for i, choice in enumerate(choices))
    return {"task": "multiple_choice", "instruction": f"次の質問に最も適切な選択肢を選んでください。{question}",
            "input": f"選択肢：{listed}", "output": f"正解は{label + 1}番の「{choices[label]}」です。"}


def _captions() -> list[str]:
    seen, captions = set(), []
    for line in (JGLUE / "jsts-v1.3/train-v1.3.json").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for sentence in (row["sentence1"], row["sentence2"]):
            if sentence not in seen and sentence.endswith("。"):
                seen.add(sentence)
                captions.append(sentence)
    return captions


# ----------------------------------------------------------------- positives


def _same_script(char: str, rng: random.Random, kanji: str) -> str:
    if "ぁ" <= char <= "ゖ":
        return chr(rng.randint(ord("ぁ"), ord("ゖ")))
    if "ァ" <= char <= "ヺ":
        return chr(rng.randint(ord("ァ"), ord("ヺ")))
    if "一" <= char <= "鿿":
        return rng.choice(kanji)
    return char


def _typos(record: dict, rng: random.Random, kanji: str) -> dict:
    record = dict(record)
    for _ in range(rng.randint(1, 5)):
        field = rng.choice([f for f in ("instruction", "input", "output") if len(record[f]) > 2])
        text = record[field]
        at = rng.randrange(1, len(text) - 1)
        edit = rng.choice(["replace", "delete", "double", "swap"])
        if edit == "replace":
            text = text[:at] + _same_script(text[at], rng, kanji) + text[at + 1:]
        elif edit == "delete":
            text = text[:at] + text[at + 1:]
        elif edit == "double":
            text = text[:at] + text[at] + text[at:]
        else:
            text = text[:at - 1] + text[at] + text[at - 1] + text[at + 1:]
        record[field] = text
    return record


def _sentence_field(record: dict, at_least: int) -> str | None:
    fields = [f for f in ("input", "output") if len(_sentences(record[f])) >= at_least]
    return max(fields, key=lambda f: len(record[f])) if fields else None


def _drop_sentence(record: dict, rng: random.Random) -> dict | None:
    field = _sentence_field(record, 3)
    if field is None:
        return None
    parts = _sentences(record[field])
    del parts[rng.randrange(len(parts))]
    return {**record, field: "".join(parts)}


def _add_sentence(record: dict, rng: random.Random, captions: list[str]) -> dict | None:
    field = _sentence_field(record, 1)
    if field is None:
        return None
    parts = _sentences(record[field])
    parts.insert(rng.randint(0, len(parts)), rng.choice(captions))
    return {**record, field: "".join(parts)}


def _reorder(record: dict, rng: random.Random) -> dict | None:
    field = _sentence_field(record, 2)
    if field is None:
        return None
    parts = _sentences(record[field])
    at = rng.randrange(len(parts) - 1)
    parts[at], parts[at + 1] = parts[at + 1], parts[at]
    return {**record, field: "".join(parts)}


def _paraphrase(record: dict, rng: random.Random) -> dict | None:
    record = dict(record)
    swaps = [(old, new) for old, new in _PARAPHRASES if any(old in record[f] for f in ("instruction", "input",
                                                                                       "output"))]
    if not swaps:
        return None
    for old, new in rng.sample(swaps, min(len(swaps), rng.randint(1, 3))):
        field = rng.choice([f for f in ("instruction", "input", "output") if old in record[f]])
        record[field] = record[field].replace(old, new, 1)
    return record


# ----------------------------------------------------------------- hard negatives


def _two(values: list[str], rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(values, 2)
    return first, second


def _person_pair(record: dict, rng: random.Random) -> tuple[dict, dict]:
    names = _two([s + g for s in _SURNAMES for g in _GIVEN], rng)
    return tuple({**record, "instruction": f"{name}さんからの質問です。{record['instruction']}",
                  "output": f"{name}さん、{record['output']}"} for name in names)


def _place_pair(record: dict, rng: random.Random) -> tuple[dict, dict]:
    places = _two(_PLACES, rng)
    return tuple({**record, "instruction": f"{place}の高校で出された問題です。{record['instruction']}"}
                 for place in places)


def _date_pair(record: dict, rng: random.Random) -> tuple[dict, dict]:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    kanji = rng.random() < 0.5
    other_month, other_day = (month, rng.choice([d for d in range(1, 29) if d != day])) if rng.random() < 0.5 else \
        (rng.choice([m for m in range(1, 13) if m != month]), day)

    def written(m: int, d: int) -> str:
        return f"{_kanji_number(m)}月{_kanji_number(d)}日" if kanji else f"{m}月{d}日"
    return tuple({**record, "instruction": f"{when}の授業で扱った内容です。{record['instruction']}"}
                 for when in (written(month, day), written(other_month, other_day)))


def _quantity_pair(record: dict, rng: random.Random) -> tuple[dict, dict]:
    first, second = rng.sample(range(2, 30), 2)
    counter = rng.choice(_COUNTERS)
    kanji = rng.random() < 0.5
    return tuple({**record, "output": f"{record['output']}この問題には{_kanji_number(n) if kanji else n}{counter}が"
                                      "関係しています。"} for n in (first, second))


def _negation_pair(captions: list[str], rng: random.Random) -> tuple[dict, dict] | None:
    context = rng.sample(captions, 3)
    at = rng.randrange(3)
    for positive, negative in _NEGATIONS:
        if context[at].endswith(positive):
            negated = list(context)
            negated[at] = context[at][:-len(positive)] + negative
            return tuple({"task": "captioning", "instruction": "次の写真の説明を読んで、場面を一文で要約してください。",
                          "input": "".join(sentences), "output": sentences[at]} for sentences in (context, negated))
    return None


def _choice_pair(question: dict, pool: list[str], rng: random.Random) -> tuple[dict, dict]:
    choices = list(question["choices"])
    at = rng.choice([i for i in range(5) if i != question["label"]])
    changed = list(choices)
    changed[at] = rng.choice([word for word in pool if word not in choices])
    return (_choice_record(question["question"], choices, question["label"]),
            _choice_record(question["question"], changed, question["label"]))


# ----------------------------------------------------------------- corpus


def build_corpus(uniques: int = 3000, per_positive_kind: int = 400, per_hard_kind: int = 150,
                 seed: int = 20261201) -> pl.DataFrame:
    """Columns id, source, task, instruction, input, output, license, group, kind, truth."""
    rng = random.Random(seed)
    jsquad, commonsense, captions = _jsquad(), _commonsense(), _captions()
    rng.shuffle(jsquad)
    rng.shuffle(commonsense)
    kanji = "".join(sorted({ch for r in jsquad for ch in r["input"] if "一" <= ch <= "鿿"}))
    pool = sorted({choice for q in commonsense for choice in q["choices"]})
    # the bases: half reading comprehension (long), half multiple choice (short); the first
    # commonsense questions are kept back for the hard choice pairs
    reserved, commonsense = commonsense[:per_hard_kind], commonsense[per_hard_kind:]
    reading = jsquad[:min(len(jsquad) - per_hard_kind * 4, uniques // 2)]
    spare_reading = jsquad[len(reading):]
    bases = reading + [_choice_record(q["question"], q["choices"], q["label"])
                       for q in commonsense[:uniques - len(reading)]]
    rows: list[dict] = []

    def add(record: dict, kind: str, truth: str | None = None) -> str:
        record_id = f"jglue:{len(rows):06d}"
        rows.append({"id": record_id, "source": "jglue", "task": record["task"],
                     "instruction": record["instruction"], "input": record["input"], "output": record["output"],
                     "license": "CC-BY-SA-4.0", "group": record_id, "kind": kind, "truth": truth or record_id})
        return record_id

    based = [(add(record, "unique"), record) for record in bases]
    makers = {"typos": lambda r: _typos(r, rng, kanji), "drop_sentence": lambda r: _drop_sentence(r, rng),
              "add_sentence": lambda r: _add_sentence(r, rng, captions), "reorder": lambda r: _reorder(r, rng),
              "paraphrase": lambda r: _paraphrase(r, rng)}
    for kind in POSITIVE_KINDS:
        made = 0
        while made < per_positive_kind:
            base_id, base = rng.choice(based)
            copy = makers[kind](base)
            if copy is not None and copy != base:
                add(copy, kind, base_id)
                made += 1
    spare = iter(spare_reading)
    for kind, pair_of in [("hard_person", _person_pair), ("hard_place", _place_pair), ("hard_date", _date_pair),
                          ("hard_quantity", _quantity_pair)]:
        for _ in range(per_hard_kind):
            for record in pair_of(next(spare), rng):
                add(record, kind)
    made = 0
    while made < per_hard_kind:
        pair = _negation_pair(captions, rng)
        if pair is not None:
            for record in pair:
                add(record, "hard_negation")
            made += 1
    for question in reserved:
        for record in _choice_pair(question, pool, rng):
            add(record, "hard_choice")
    rng.shuffle(rows)
    return pl.DataFrame(rows)


if __name__ == "__main__":
    corpus = build_corpus()
    print(corpus.group_by("kind").len().sort("kind"))
    for kind in (*POSITIVE_KINDS, *HARD_KINDS):
        example = corpus.filter(kind=kind).row(0, named=True)
        print(kind, "|", example["instruction"][:60], "|", example["input"][:60], "|", example["output"][:60])
