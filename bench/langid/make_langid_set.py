"""Build the labelled language-ID set of short lines (bench/langid/).

Written before looking at how the language filter scores these lines: every
choice below is about what a "short line in language X, register R" is, never
about what the filter does with it. Sampling is uniform with a fixed seed over
the lines that pass the eligibility rule of their source.

Non-Japanese lines (committed, openly licensed; see PROVENANCE.md):
- Tatoeba via the LASER test set (facebookresearch/LASER data/tatoeba/v1, one
  sentence per line): the non-English side of 15 language pairs. Tatoeba's
  English side is NOT used: the Tanaka corpus, whose test split is held out
  for an independent check, is part of Tatoeba's English-Japanese pairs.
- Universal Dependencies dev treebanks (the ``# text =`` line of each
  sentence): English (EWT: web, e-mail, reviews), Chinese in Traditional (GSD)
  and Simplified (GSDSimp) characters, and Japanese prose (GSD).

Japanese lines from the project's training sources (not committed: the rules
forbid committing mirror files, so mirror_refs.jsonl holds references that
bench/langid_bench.py resolves against JINSTRUCT_MIRROR):
- question: Dolly-ja instructions of the open_qa category;
- answer: Dolly-ja outputs of open_qa / closed_qa / general_qa, and Alpaca-jp
  seed outputs (one line, at most ``ANSWER_MAX_CHARS``);
- conversation: Tanaka train.ja lines (everyday sentences);
- title: JSQuAD valid article titles (Wikipedia titles);
- word: JCommonsenseQA train answer choices (single terms);
- list: Dolly-ja brainstorming / classification / information_extraction
  outputs laid out as items (at least two lines, or at least two 、/, separators
  and no 。).

Usage:
    python bench/langid/make_langid_set.py --tatoeba DIR --ud DIR --mirror ../shared/mirror
where DIR holds ``tatoeba.<lang>`` files and the ``*-ud-dev.conllu`` files.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tarfile
from pathlib import Path

SEED = 20261201
PER_LANGUAGE = 150
PER_REGISTER = 150
# A short line: what an instruction, a question or a one-line answer looks like.
MAX_CHARS = 120
ANSWER_MAX_CHARS = 120
# ISO 639-3 codes of the Tatoeba files used, with the label written to the set.
TATOEBA = {"cmn": "zh", "kor": "ko", "deu": "de", "fra": "fr", "spa": "es", "ita": "it", "por": "pt", "nld": "nl",
           "swe": "sv", "rus": "ru", "ukr": "uk", "pol": "pl", "tur": "tr", "vie": "vi", "ind": "id"}
UD = {"en_ewt": ("en", "web"), "zh_gsd": ("zh-Hant", "wiki"), "zh_gsdsimp": ("zh-Hans", "wiki"),
      "ja_gsd": ("ja", "prose")}
MIRROR = {
    "dolly": "github.com/kunishou/databricks-dolly-15k-ja/archive/00fa12ce5cae8da6aa50adb2d8d5ba3dc4aada49.tar.gz",
    "alpaca": "raw.githubusercontent.com/Hajime-Y/Alpaca-jp/668ef87b910b1718c18b1db7c33041fd8053cec0/seed_tasks/"
              "seed_tasks_jp_cleaned.jsonl",
    "tanaka": "raw.githubusercontent.com/odashi/small_parallel_enja/312408a11c5fbcbc09443bebb18121f7efdcd61e/train.ja",
    "jsquad": "raw.githubusercontent.com/yahoojapan/JGLUE/6f071c09316baae89c3d083a90985b4b1cb9968c/datasets/"
              "jsquad-v1.3/valid-v1.3.json",
    "jcqa": "raw.githubusercontent.com/yahoojapan/JGLUE/6f071c09316baae89c3d083a90985b4b1cb9968c/datasets/"
            "jcommonsenseqa-v1.3/train-v1.3.json",
}


def sample(items: list, count: int, salt: str) -> list:
    """``count`` items drawn uniformly (all when fewer), in source order."""
    rng = random.Random(f"{SEED}:{salt}")
    chosen = sorted(rng.sample(range(len(items)), min(count, len(items))))
    return [items[index] for index in chosen]


def short(text: str, limit: int = MAX_CHARS) -> bool:
    return 0 < len(text.strip()) <= limit and "\n" not in text.strip()


def tatoeba_lines(folder: Path) -> list[dict]:
    rows = []
    for code, lang in TATOEBA.items():
        lines = (folder / f"tatoeba.{code}").read_text(encoding="utf-8").splitlines()
        eligible = [(number, line.strip()) for number, line in enumerate(lines, 1) if short(line)]
        for number, text in sample(eligible, PER_LANGUAGE, code):
            rows.append({"id": f"tatoeba-{code}:{number}", "lang": lang, "register": "sentence", "text": text})
    return rows


def ud_sentences(path: Path) -> list[tuple[str, str, int]]:
    """(sent_id, text, word count) of each sentence in a CoNLL-U file."""
    found, sent_id, text, words = [], None, None, 0
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("# sent_id = "):
            sent_id = line.removeprefix("# sent_id = ")
        elif line.startswith("# text = "):
            text = line.removeprefix("# text = ")
        elif line and line[0].isdigit() and "\t" in line:
            columns = line.split("\t")
            if "-" not in columns[0] and "." not in columns[0] and columns[3] not in ("PUNCT", "SYM"):
                words += 1
        elif not line and text is not None:
            found.append((sent_id, text, words))
            sent_id, text, words = None, None, 0
    return found


def ud_lines(folder: Path) -> list[dict]:
    rows = []
    for treebank, (lang, register) in UD.items():
        # A sentence is at least three words (UD tokens that are not punctuation):
        # one- and two-word lines ("Thanks!", "Sincerely,") are not sentences.
        eligible = [(sent_id, text) for sent_id, text, words in ud_sentences(folder / f"{treebank}-ud-dev.conllu")
                    if words >= 3 and short(text)]
        for sent_id, text in sample(eligible, PER_LANGUAGE, treebank):
            rows.append({"id": f"ud-{treebank}:{sent_id}", "lang": lang, "register": register, "text": text})
    return rows


def dolly_records(mirror: Path) -> list[tuple[str, dict]]:
    with tarfile.open(mirror / MIRROR["dolly"]) as archive:
        members = sorted((m for m in archive.getmembers() if m.name.endswith(".jsonl")), key=lambda m: m.name)
        return [(m.name.split("/", 1)[1], json.loads(archive.extractfile(m).read())) for m in members]


def looks_like_list(text: str) -> bool:
    text = text.strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 2 or (len(re.findall(r"[、,，]", text)) >= 2 and "。" not in text)


def mirror_refs(mirror: Path) -> list[dict]:
    refs: dict[str, list[dict]] = {name: [] for name in ("question", "answer", "conversation", "title", "word",
                                                        "list")}
    for member, record in dolly_records(mirror):
        category = record.get("category")
        ref = {"source": "dolly", "member": member}
        if category == "open_qa" and short(record["instruction"]):
            refs["question"].append({**ref, "field": "instruction"})
        if category in ("open_qa", "closed_qa", "general_qa") and short(record["output"], ANSWER_MAX_CHARS):
            refs["answer"].append({**ref, "field": "output"})
        if category in ("brainstorming", "classification", "information_extraction") \
                and looks_like_list(record["output"]) and len(record["output"]) <= 400:
            refs["list"].append({**ref, "field": "output"})
    alpaca = (mirror / MIRROR["alpaca"]).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(alpaca, 1):
        for instance, item in enumerate(json.loads(line)["instances"]):
            if short(item["output"], ANSWER_MAX_CHARS):
                refs["answer"].append({"source": "alpaca", "line": number, "instance": instance, "field": "output"})
    tanaka = (mirror / MIRROR["tanaka"]).read_text(encoding="utf-8").splitlines()
    refs["conversation"] = [{"source": "tanaka", "line": number} for number, line in enumerate(tanaka, 1)
                            if line.strip()]
    articles = json.loads((mirror / MIRROR["jsquad"]).read_text(encoding="utf-8"))["data"]
    refs["title"] = [{"source": "jsquad", "article": index} for index in range(len(articles))]
    jcqa = (mirror / MIRROR["jcqa"]).read_text(encoding="utf-8").splitlines()
    refs["word"] = [{"source": "jcqa", "line": number, "choice": choice}
                    for number in range(1, len(jcqa) + 1) for choice in range(5)]
    rows = []
    for register, candidates in refs.items():
        for index, ref in enumerate(sample(candidates, PER_REGISTER, register)):
            rows.append({"id": f"mirror-{register}:{index}", "lang": "ja", "register": register, **ref})
    return rows


def resolve(refs: list[dict], mirror: Path) -> list[dict]:
    """The Japanese lines that ``refs`` (rows of mirror_refs.jsonl) point at, as set rows with ``text``."""
    dolly = dict(dolly_records(mirror)) if any(ref["source"] == "dolly" for ref in refs) else {}
    alpaca = (mirror / MIRROR["alpaca"]).read_text(encoding="utf-8").splitlines()
    tanaka = (mirror / MIRROR["tanaka"]).read_text(encoding="utf-8").splitlines()
    articles = json.loads((mirror / MIRROR["jsquad"]).read_text(encoding="utf-8"))["data"]
    jcqa = (mirror / MIRROR["jcqa"]).read_text(encoding="utf-8").splitlines()
    rows = []
    for ref in refs:
        source = ref["source"]
        if source == "dolly":
            text = dolly[ref["member"]][ref["field"]]
        elif source == "alpaca":
            text = json.loads(alpaca[ref["line"] - 1])["instances"][ref["instance"]][ref["field"]]
        elif source == "tanaka":
            text = tanaka[ref["line"] - 1]
        elif source == "jsquad":
            text = articles[ref["article"]]["title"]
        else:
            text = json.loads(jcqa[ref["line"] - 1])[f"choice{ref['choice']}"]
        rows.append({"id": ref["id"], "lang": ref["lang"], "register": ref["register"], "text": text.strip()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tatoeba", type=Path, required=True)
    parser.add_argument("--ud", type=Path, required=True)
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    sentences = tatoeba_lines(args.tatoeba) + ud_lines(args.ud)
    with open(args.out / "sentences.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in sentences)
    refs = mirror_refs(args.mirror)
    with open(args.out / "mirror_refs.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in refs)
    print(f"{len(sentences)} committed lines, {len(refs)} mirror references in {args.out}")


if __name__ == "__main__":
    main()
