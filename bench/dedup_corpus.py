"""Deterministic labelled dedup corpora built from the mirror's Japanese Dolly 15k.

A corpus of N records is, by construction (fractions below):

- unique records: the 15,015 Dolly records as they are, then synthetic ones
  (a Dolly instruction, sometimes a Dolly sentence as input, two to four
  Dolly sentences as output) until the unique share is filled;
- near duplicates of a unique record, with one to three realistic edits:
  width changes (ASCII/digits to full width, katakana to half width),
  punctuation swaps (。→．, 、→，, ？→?, 「」→『』), small typos (kana replaced or
  dropped), an appended boilerplate sentence, a prefix ("質問：" …);
- exact copies of a unique record;
- hard negatives, which must be kept: the same record with every number
  changed, and families of template records differing only in a name.

Every record carries ``truth``: the id of the record it copies (its own id
otherwise). A removal is correct when another record with the same truth is
kept; removing a unique record or a hard negative is an error.
"""

from __future__ import annotations

import glob
import json
import random
import re
import tarfile
from pathlib import Path

import polars as pl

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "mirror"
DOLLY_ARCHIVE = "github.com/kunishou/databricks-dolly-15k-ja/archive/*.tar.gz"
FRACTIONS = {"unique": 0.60, "near": 0.25, "exact": 0.05, "hard": 0.10}

_APPENDED = ["参考になれば幸いです。", "以上です。", "詳しくは専門家に相談してください。",
             "ご質問ありがとうございます。", "他にも知りたいことがあれば聞いてください。"]
_PREFIXES = ["質問：", "以下の質問に答えてください。", "【指示】", "Q: ", "次の問いに回答せよ。"]
_PUNCTUATION_SWAPS = [("。", "．"), ("、", "，"), ("？", "?"), ("！", "!"), ("「", "『"), ("」", "』")]
_HIRAGANA = [chr(c) for c in range(ord("ぁ"), ord("ゖ"))]
_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
_HALF_KATAKANA = dict(zip("アイウエオカキクケコサシスセソタチツテトナニヌネノ"
                          "ハヒフヘホマミムメモヤユヨラリルレロワヲン",
                          "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝ"))
# Two name slots, so that families never run out of distinct (template, name, name) fillings.
_NAME_TEMPLATES = [
    ("{name}はどのような人物ですか？{other}との関係も説明してください。",
     "{name}は多くの人に知られた人物です。{name}と{other}は長い付き合いがあり、二人の活動は今も語り継がれています。"),
    ("{name}という名前の由来を、{other}の例と比べて教えてください。",
     "{name}という名前には特別な意味が込められています。{other}と同じく、{name}も古くから使われてきた呼び名です。"),
    ("{name}から{other}へのお礼の手紙を短く書いてください。",
     "{other}様、先日は本当にありがとうございました。{other}様のおかげで助かりました。これからもよろしくお願いします。{name}より"),
]


def load_dolly(mirror: Path = MIRROR) -> list[dict]:
    """The Dolly-ja records in archive member order (data/00000.jsonl …)."""
    archive = sorted(glob.glob(str(mirror / DOLLY_ARCHIVE)))[0]
    records = []
    with tarfile.open(archive) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and re.search(r"/data/\d+\.jsonl$", m.name)),
                         key=lambda m: m.name)
        for member in members:
            row = json.loads(tar.extractfile(member).read())
            records.append({"instruction": row.get("instruction") or "", "input": row.get("input") or "",
                            "output": row.get("output") or "", "task": row.get("category") or "general"})
    return records


def _sentences(records: list[dict]) -> list[str]:
    found = set()
    for record in records:
        for field in ("input", "output"):
            for sentence in re.split(r"(?<=[。！？])", record[field]):
                sentence = sentence.strip()
                if 8 <= len(sentence) <= 120:
                    found.add(sentence)
    return sorted(found)


def _katakana_names(records: list[dict]) -> list[str]:
    names = set()
    for record in records:
        names.update(re.findall(r"[ァ-ヺー]{4,8}", record["instruction"]))
    return sorted(names)


# ----------------------------------------------------------------- perturbations


def _width(text: str, rng: random.Random) -> str:
    table = _FULL_WIDTH if rng.random() < 0.5 else _HALF_KATAKANA
    return "".join(table.get(ch, ch) for ch in text)


def _punctuation(text: str, rng: random.Random) -> str:
    for original, swapped in rng.sample(_PUNCTUATION_SWAPS, 3):
        text = text.replace(original, swapped)
    return text


def _typos(text: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(text) if "ぁ" <= ch <= "ゖ"]
    for position in sorted(rng.sample(positions, min(len(positions), rng.randint(1, 3))), reverse=True):
        if rng.random() < 0.5:
            text = text[:position] + text[position + 1:]
        else:
            text = text[:position] + rng.choice(_HIRAGANA) + text[position + 1:]
    return text


def _perturbed(record: dict, rng: random.Random) -> dict:
    record = dict(record)
    for edit in rng.sample(["width", "punctuation", "typos", "append", "prefix"], rng.randint(1, 3)):
        if edit == "append":
            record["output"] = record["output"] + rng.choice(_APPENDED)
        elif edit == "prefix":
            record["instruction"] = rng.choice(_PREFIXES) + record["instruction"]
        else:
            change = {"width": _width, "punctuation": _punctuation, "typos": _typos}[edit]
            field = rng.choice([f for f in ("instruction", "input", "output") if record[f]] or ["instruction"])
            record[field] = change(record[field], rng)
    return record


def _renumbered(record: dict, rng: random.Random) -> dict:
    def other_number(match: re.Match) -> str:
        digits = match.group(0)
        low = 10 ** (len(digits) - 1) if len(digits) > 1 else 0
        while (new := str(rng.randint(low, 10 ** len(digits) - 1))) == digits:
            pass
        return new
    return {**record, **{f: re.sub(r"[0-9]+", other_number, record[f]) for f in ("instruction", "input", "output")}}


# ----------------------------------------------------------------- corpus


def build_corpus(size: int, seed: int = 20261124, mirror: Path = MIRROR) -> pl.DataFrame:
    rng = random.Random(seed)
    dolly = load_dolly(mirror)
    sentences = _sentences(dolly)
    names = _katakana_names(dolly)
    counts = {kind: int(size * share) for kind, share in FRACTIONS.items()}
    counts["unique"] += size - sum(counts.values())
    rows: list[dict] = []

    def add(record: dict, kind: str, truth: str | None = None) -> str:
        record_id = f"bench:{len(rows):08d}"
        rows.append({"id": record_id, "source": "bench", "task": record["task"], "instruction": record["instruction"],
                     "input": record["input"], "output": record["output"], "license": "CC-BY-SA-3.0",
                     "group": record_id, "kind": kind, "truth": truth or record_id})
        return record_id

    uniques: list[tuple[str, dict]] = []
    for position in range(counts["unique"]):
        if position < len(dolly):
            record = dolly[position]
        else:
            template = rng.choice(dolly)
            record = {"instruction": template["instruction"], "task": template["task"],
                      "input": rng.choice(sentences) if rng.random() < 0.3 else "",
                      "output": "".join(rng.sample(sentences, rng.randint(2, 4)))}
        uniques.append((add(record, "unique"), record))
    with_numbers = [(i, r) for i, r in uniques if re.search(r"[0-9]", r["instruction"] + r["input"] + r["output"])]
    for _ in range(counts["near"]):
        base_id, base = rng.choice(uniques)
        add(_perturbed(base, rng), "near", base_id)
    for _ in range(counts["exact"]):
        base_id, base = rng.choice(uniques)
        add(dict(base), "exact", base_id)
    # hard negatives alternate: three renumbered records, then a family of three name fillings
    seen = {record["instruction"] + record["input"] + record["output"] for _, record in uniques}
    made, renumber_next = 0, True
    while made < counts["hard"]:
        if renumber_next and with_numbers:
            candidates = [_renumbered(rng.choice(with_numbers)[1], rng) for _ in range(3)]
            kind = "hard_number"
        else:
            instruction, output = rng.choice(_NAME_TEMPLATES)
            other = rng.choice(names)
            candidates = [{"instruction": instruction.format(name=name, other=other), "input": "",
                           "output": output.format(name=name, other=other), "task": "creative_writing"}
                          for name in rng.sample(names, 3)]
            kind = "hard_name"
        renumber_next = not renumber_next
        for record in candidates[:counts["hard"] - made]:
            text = record["instruction"] + record["input"] + record["output"]
            if text not in seen:  # a hard negative must really differ from everything else
                seen.add(text)
                add(record, kind)
                made += 1
    # shuffle so that copies do not sit next to their originals; ids stay as assigned
    rng.shuffle(rows)
    return pl.DataFrame(rows)


def write_corpus(frame: pl.DataFrame, folder: Path, shards: int = 2) -> None:
    """corpus.parquet (records + labels) and text/*.jsonl ({"id", "text"}) for the peers."""
    (folder / "text").mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / "corpus.parquet")
    fields = [pl.col(f).replace("", None) for f in ("instruction", "input", "output")]
    text = frame.select("id", text=pl.concat_str(fields, separator="\n", ignore_nulls=True))
    per_shard = -(-text.height // shards)
    for shard in range(shards):
        text.slice(shard * per_shard, per_shard).write_ndjson(folder / "text" / f"part-{shard}.jsonl")
