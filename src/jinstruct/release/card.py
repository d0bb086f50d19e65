"""The dataset card (README.md) of a built dataset version.

``render_card(manifest)`` turns a split manifest into a Hugging Face dataset card:
YAML metadata built with ``huggingface_hub.DatasetCardData`` (so the Hub and
``datasets`` read it as they expect) and a Markdown body that says what is in the
data, where it came from, under which licence, and how to rebuild it. The split
stage writes it to data/processed/README.md; publish renders it again with the
Hub file layout. Same manifest in, same bytes out (nothing time-dependent).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from jinstruct.release import manifest as manifests
from jinstruct.release.licenses import derive_licence, licence_url

# The body states the hash on one line in this form; lineage reads it back.
HASH_LINE = "dataset_hash: `{}`"
HASH_PATTERN = re.compile(r"dataset_hash: `([0-9a-f]{64})`")
TOP_REASONS = 3

SEED_PAPER_BIBTEX = """@inproceedings{suzuki2023base,
  title         = {From Base to Conversational: Japanese Instruction Dataset and Tuning Large Language Models},
  author        = {Suzuki, Masahiro and Hirano, Masanori and Sakaji, Hiroki},
  booktitle     = {2023 IEEE International Conference on Big Data (BigData)},
  year          = {2023},
  eprint        = {2309.03412},
  archivePrefix = {arXiv}
}"""

# Citations of the upstream corpora the default build uses, matched on the source URL.
# A source may give its own `citation` (BibTeX) in params.yaml; anything else gets a
# @misc entry naming its URL and revision.
_KNOWN_CITATIONS = (
    ("yahoojapan/JGLUE", """@inproceedings{kurihara-etal-2022-jglue,
  title     = {{JGLUE}: {J}apanese General Language Understanding Evaluation},
  author    = {Kurihara, Kentaro and Kawahara, Daisuke and Shibata, Tomohide},
  booktitle = {Proceedings of the Thirteenth Language Resources and Evaluation Conference},
  year      = {2022},
  pages     = {2957--2966},
  publisher = {European Language Resources Association}
}"""),
    ("small_parallel_enja", """@inproceedings{tanaka2001compilation,
  title     = {Compilation of a Multilingual Parallel Corpus},
  author    = {Tanaka, Yasuhito},
  booktitle = {Proceedings of PACLING 2001},
  year      = {2001}
}"""),
    ("databricks-dolly-15k-ja", """@misc{kunishou2023dollyja,
  title        = {databricks-dolly-15k-ja: a Japanese translation of databricks-dolly-15k},
  author       = {kunishou},
  year         = {2023},
  howpublished = {\\url{https://github.com/kunishou/databricks-dolly-15k-ja}}
}
@online{DatabricksBlog2023DollyV2,
  author = {Conover, Mike and Hayes, Matt and Mathur, Ankit and Xie, Jianwei and Wan, Jun and Shah, Sam and
            Ghodsi, Ali and Wendell, Patrick and Zaharia, Matei and Xin, Reynold},
  title  = {Free Dolly: Introducing the World's First Truly Open Instruction-Tuned LLM},
  year   = {2023},
  url    = {https://www.databricks.com/blog/2023/04/12/dolly-first-open-commercially-viable-instruction-tuned-llm}
}"""),
    ("Alpaca-jp", """@misc{alpacajp2023,
  title        = {Alpaca-jp: Japanese seed tasks for Alpaca-style instruction generation},
  author       = {Hajime-Y},
  year         = {2023},
  howpublished = {\\url{https://github.com/Hajime-Y/Alpaca-jp}}
}
@misc{alpaca,
  author       = {Taori, Rohan and Gulrajani, Ishaan and Zhang, Tianyi and Dubois, Yann and Li, Xuechen and
                  Guestrin, Carlos and Liang, Percy and Hashimoto, Tatsunori B.},
  title        = {Stanford Alpaca: An Instruction-following LLaMA model},
  year         = {2023},
  howpublished = {\\url{https://github.com/tatsu-lab/stanford_alpaca}}
}"""),
)

# Hub task categories inferred from task names (first match wins per task).
_TASK_CATEGORIES = (
    ("transl", "translation"),
    ("summar", "summarization"),
    ("commonsense", "multiple-choice"),
    ("choice", "multiple-choice"),
    ("squad", "question-answering"),
    ("reading", "question-answering"),
    ("qa", "question-answering"),
    ("nli", "text-classification"),
    ("classif", "text-classification"),
)
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))


# --------------------------------------------------------------------------- metadata


def size_category(records: int) -> str:
    return next((label for bound, label in _SIZE_CATEGORIES if records < bound), "n>1T")


def task_categories(task_names: list[str]) -> list[str]:
    categories = {"text-generation"}
    for task in task_names:
        match = next((category for needle, category in _TASK_CATEGORIES if needle in task.lower()), None)
        if match:
            categories.add(match)
    return sorted(categories)


def has_translation(task_names: list[str]) -> bool:
    return any("transl" in task.lower() for task in task_names)


def repository_of(url: str | None) -> str | None:
    """A citable repository address for a pinned URL (GitHub raw/archive links → the repo page)."""
    if not url:
        return None
    match = re.match(r"https://(?:raw\.githubusercontent\.com|github\.com)/([^/]+)/([^/]+)", url)
    if match:
        return f"https://github.com/{match.group(1)}/{match.group(2)}"
    match = re.match(r"https://huggingface\.co/datasets/([^/]+/[^/]+)", url)
    if match:
        return f"https://huggingface.co/datasets/{match.group(1)}"
    return url


def default_data_files(manifest: dict) -> dict[str, list[str]]:
    """Data files as they sit in the processed folder, next to the card."""
    return {split: [Path(manifest["splits"][split].get("file") or f"{split}.parquet").name]
            for split in manifests.split_names(manifest)}


def card_data(manifest: dict, data_files: dict[str, list[str]] | None = None,
              columns: list[str] | None = None) -> DatasetCardData:
    data_files = data_files or default_data_files(manifest)
    task_names = manifests.tasks(manifest)
    decision = derive_licence({s.name: s.licence for s in manifests.sources(manifest)})
    extra: dict = {}
    if decision.hub_id == "other":
        extra["license_name"] = "per-record"
    if columns:
        # Declared so that every split loads with the same string features, whatever the Parquet encoding.
        extra["dataset_info"] = {"features": [{"name": column, "dtype": "string"} for column in columns]}
    sources = manifests.sources(manifest)
    return DatasetCardData(
        pretty_name=(manifest.get("pretty_name")
                     or f"{manifest.get('name', 'jinstruct')} {manifest.get('version', '')}".strip()),
        license=decision.hub_id,
        language=["ja", "en"] if has_translation(task_names) else ["ja"],
        task_categories=task_categories(task_names),
        size_categories=[size_category(manifests.total_records(manifest))],
        source_datasets=sorted({repository_of(f.url) for s in sources for f in s.files if f.url}) or ["original"],
        configs=[{"config_name": "default", "default": True,
                  "data_files": [{"split": split, "path": paths if len(paths) > 1 else paths[0]}
                                 for split, paths in data_files.items()]}],
        tags=["instruction-tuning", "japanese", "jinstruct"],
        **extra,
    )


# --------------------------------------------------------------------------- body


def _table(header: list[str], rows: list[list[object]]) -> str:
    escape = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary(manifest: dict) -> str:
    splits = ", ".join(f"{split} {int(manifest['splits'][split]['records']):,}"
                       for split in manifests.split_names(manifest))
    return (f"Japanese instruction-tuning records built with jinstruct, "
            f"following the recipe of Suzuki, Hirano and Sakaji (2023): "
            f"pinned public corpora converted to instruction / input / output records, normalised, "
            f"deduplicated and filtered, then split deterministically. "
            f"{manifests.total_records(manifest):,} records ({splits}).")


def _counts_section(manifest: dict) -> str:
    splits = manifests.split_names(manifest)
    counts = manifest.get("counts") or {}
    keys = sorted({(source, task) for split in splits for source, per_task in counts.get(split, {}).items()
                   for task in per_task})
    rows = [[source, task, *[counts.get(split, {}).get(source, {}).get(task, 0) for split in splits]]
            for source, task in keys]
    rows.append(["**total**", "", *[int(manifest["splits"][split]["records"]) for split in splits]])
    return _table(["source", "task", *splits], rows)


def _sources_section(manifest: dict) -> str:
    rows = []
    for source in manifests.sources(manifest):
        for index, file in enumerate(source.files or [manifests.SourceFile(None, None, None, None, None)]):
            rows.append([source.name if index == 0 else "", file.url or "(not recorded)",
                         f"`{file.revision}`" if file.revision else "", f"`{file.sha256}`" if file.sha256 else "",
                         source.licence or "unknown" if index == 0 else "",
                         f"{source.records_kept:,}" if index == 0 else ""])
    return _table(["source", "URL", "revision", "sha256", "licence", "records kept"], rows)


def _licence_section(manifest: dict) -> str:
    sources = manifests.sources(manifest)
    decision = derive_licence({s.name: s.licence for s in sources})
    lines = [f"Declared licence: **{decision.spdx or decision.hub_id}**. "
             "Every record also carries its source's licence in the `license` column."]
    lines += [f"- {note}." for note in decision.notes]
    for source in sources:
        url = licence_url(source.licence)
        lines.append(f"- `{source.name}`: {source.licence or 'unknown'}" + (f" (<{url}>)" if url else ""))
    return "\n".join(lines)


def _funnel_section(manifest: dict) -> str:
    rows = []
    for stage, stats in manifests.funnel_stages(manifest):
        reasons = sorted((stats.get("rejected_by_reason") or {}).items(), key=lambda item: (-item[1], item[0]))
        top = ", ".join(f"{reason} {count:,}" for reason, count in reasons[:TOP_REASONS])
        rows.append([stage, f"{stats.get('records_in', 0):,}", f"{stats.get('records_out', 0):,}",
                     f"{stats.get('records_rejected', 0):,}", top])
    if not rows:
        return "No stage statistics were recorded in the manifest."
    return _table(["stage", "in", "out", "rejected", "top reject reasons"], rows)


def _params_section(manifest: dict) -> str:
    params = {section: value for section, value in (manifest.get("params") or {}).items() if section != "sources"}
    return "```yaml\n" + yaml.safe_dump(params, allow_unicode=True, sort_keys=True).rstrip() + "\n```"


def _rebuild_section(manifest: dict) -> str:
    code = manifest.get("code") or {}
    commit = code.get("git_commit") or "<the commit named in lineage.json>"
    remote = code.get("git_remote")
    lines = ["In a clone of the jinstruct repository" + (f" ({remote})" if remote else "") + ":", "", "```bash",
             f"git checkout {commit}",
             "make setup && . .venv/bin/activate   # the pinned dependencies",
             "dvc repro split                      # fetch → convert → normalize → dedup → filter → split",
             "jinstruct lineage data/processed/manifest.json   # recomputes and checks the dataset hash",
             "```",
             f"The rebuilt `data/processed/manifest.json` must show {HASH_LINE.format(manifest['dataset_hash'])}."]
    if code.get("published_dirty"):
        lines.append("\n**Warning:** published with `--allow-dirty` from a working tree with uncommitted changes "
                     f"({', '.join(line[3:] for line in code['published_dirty'])}), so the commit above may not "
                     "reproduce this version.")
    elif code.get("git_dirty"):
        lines.append("\n**Warning:** this version was built from a working tree with uncommitted changes, "
                     "so the commit above may not reproduce it exactly.")
    return "\n".join(lines)


_USE_AND_LIMITS = """\
**Intended use.** Supervised instruction tuning and evaluation of Japanese (and, for the translation
tasks, Japanese–English) language models, and research on how data curation choices change tuned
models. Cite the sources below alongside this dataset.

**Known limitations.**
- Several sources are machine-translated from English (the Dolly and Alpaca seed records), with the
  unnatural phrasing and English-centric topics that implies.
- Records converted from benchmarks (JGLUE) are templated: many share one instruction wording. The
  filter stage removes records that overlap the evaluation sets, but any evaluation on other data
  derived from the same corpora may still be contaminated.
- Tanaka Corpus pairs were collected by students and contain errors in both languages.
- Filters are heuristics (language identification, quality thresholds, PII patterns): some unwanted
  text passes and some good text is removed; see the funnel above for what each stage rejected.
- Nothing here was checked for factual accuracy, bias or harmful content beyond those filters."""


def _citations_section(manifest: dict) -> str:
    blocks = [SEED_PAPER_BIBTEX]
    seen = {SEED_PAPER_BIBTEX}
    for source in manifests.sources(manifest):
        url = next((f.url for f in source.files if f.url), "")
        citation = source.entry.get("citation") or next(
            (bib for needle, bib in _KNOWN_CITATIONS if needle in url), None)
        if citation is None:
            citation = (f"@misc{{{re.sub(r'[^A-Za-z0-9]', '', source.name)},\n  title        = {{{source.name}}},\n"
                        f"  howpublished = {{\\url{{{repository_of(url) or url}}}}},\n"
                        f"  note         = {{revision {source.revision or 'not recorded'}}}\n}}")
        if citation not in seen:
            seen.add(citation)
            blocks.append(citation)
    return "```bibtex\n" + "\n".join(blocks) + "\n```"


def render_body(manifest: dict) -> str:
    name = manifest.get("name", "jinstruct")
    sections = [
        f"# {name} {manifest.get('version', '')}".rstrip(),
        _summary(manifest),
        "## Dataset hash\n\n" + HASH_LINE.format(manifest["dataset_hash"]) + "\n\nsha256 over the canonical form of "
        "the splits (train, validation, test; records sorted by `id`, each as compact key-sorted JSON), "
        "independent of the Parquet encoding. Every model trained on this version carries it.",
        "## Splits\n\n" + _counts_section(manifest),
        "## Record format\n\n" + _table(["column", "meaning"], [
            ["id", "stable unique id, `<source>:<upstream id or line>`"], ["source", "source corpus"],
            ["task", "task the record was converted from"], ["instruction", "what the model is asked to do"],
            ["input", "context for the instruction (may be empty)"], ["output", "the expected answer"],
            ["license", "licence of the source record"],
            ["group", "records sharing a group always land in the same split"]]),
        "## Sources\n\n" + _sources_section(manifest),
        "## Licence\n\n" + _licence_section(manifest),
        "## Build funnel\n\n" + _funnel_section(manifest),
        "## Build parameters\n\n" + _params_section(manifest),
        "## Rebuilding this version\n\n" + _rebuild_section(manifest),
        "## Intended use and limitations\n\n" + _USE_AND_LIMITS,
        "## Citation\n\nThe recipe this build follows, then each source:\n\n" + _citations_section(manifest),
    ]
    return "\n\n".join(sections) + "\n"


def render_card(manifest: dict, data_files: dict[str, list[str]] | None = None,
                columns: list[str] | None = None) -> str:
    """The README.md text: YAML metadata + body.

    ``data_files`` maps each split to its files relative to the card (default: the
    processed folder's own split files); ``columns`` adds a features block.
    """
    metadata = card_data(manifest, data_files, columns).to_yaml()
    return f"---\n{metadata}\n---\n\n{render_body(manifest)}"


def card_hash(text: str) -> str | None:
    """The dataset hash a card states, or None."""
    match = HASH_PATTERN.search(text)
    return match.group(1) if match else None


def load_card_data(path: str | Path) -> dict:
    """The YAML metadata of a card on disk, parsed by huggingface_hub."""
    return DatasetCard.load(Path(path)).data.to_dict()
