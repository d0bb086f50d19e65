"""Settings of the data stages (fetch … split) and the report.

Each default is the value the project ships in params.yaml, where the reason
for every number sits next to it (and in the docstring of the module named
there); a test keeps the two equal.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveInt, RootModel

from jinstruct.settings.base import ParamsModel

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Language = Literal["ja", "en", "any"]


class FetchSection(ParamsModel):
    mirrors: list[str] = []
    max_archive_bytes: PositiveInt = 2_000_000_000
    timeout_seconds: Annotated[float, Field(gt=0)] = 60


class SourceEntry(ParamsModel):
    """The keys a source or eval set may have; ``sources/spec.py`` checks how they combine."""

    kind: str
    format: str
    license: str | None = None
    enabled: bool = True
    url: str | None = None
    path: str | None = None
    files: dict[str, dict[str, str | None]] | None = None
    sha256: str | dict[str, str] | None = None
    members: str | None = None
    adapter: str | None = None
    task: str | None = None
    repo: str | None = None
    revision: str | None = None
    data_files: str | list[str] | None = None
    endpoint: str | None = None
    options: dict[str, object] = {}


class SourcesSection(RootModel[dict[str, SourceEntry]]):
    """``sources`` and ``eval_sets``: a name → its entry."""

    root: dict[str, SourceEntry] = {}

    def as_params(self) -> dict:
        return {name: entry.model_dump(exclude_unset=True) for name, entry in self.root.items()}


class NormalizeRules(ParamsModel):
    newlines: bool = True
    invisible_chars: bool = True
    control_chars: bool = True
    halfwidth_katakana: bool = True
    kana_voicing: bool = True
    unicode_nfc: bool = True
    fullwidth_ascii: bool = True
    wave_dash: bool = True
    katakana_long_vowel: bool = True
    compat_squares: bool = True
    space_variants: bool = True
    spaces_between_japanese: bool = True
    space_runs: bool = True
    trailing_spaces: bool = True
    blank_lines: bool = True
    strip: bool = True


class PiiKinds(ParamsModel):
    email: bool = True
    card: bool = True
    phone: bool = True
    postal: bool = True


class NormalizeSection(ParamsModel):
    rules: NormalizeRules = NormalizeRules()
    pii: PiiKinds = PiiKinds()


class DedupSection(ParamsModel):
    """Keys and types; ``dedup/settings.py`` derives the LSH shape and checks how values combine."""

    fields: list[str] = ["instruction", "input", "output"]
    ngram: PositiveInt = 5
    num_perm: Annotated[int, Field(ge=2)] = 128
    seed: int = 1
    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    containment: Share = 0.95
    lsh_threshold: Share = 0.4
    bands: PositiveInt | None = None
    rows: PositiveInt | None = None
    verify: Literal["edits", "signature", "exact"] = "edits"
    edit_share: Share = 0.85
    numbers_must_match: bool = True
    names_must_match: bool = True
    field_overlap: Share = 0.5
    bucket_window: PositiveInt = 32
    source_priority: list[str] = []
    n_jobs: PositiveInt = 1
    chunk_records: PositiveInt = 20_000
    previous_index: str | None = None


# ------------------------------------------------------------------ filter


class FilterSwitch(ParamsModel):
    enabled: bool = True


class DecontaminationSection(FilterSwitch):
    ngram: PositiveInt = 20
    min_item_chars: NonNegativeInt = 10
    extra_files: list[dict[str, object]] = []


def _ordered(bounds: list[int]) -> list[int]:
    if bounds[0] > bounds[1]:
        raise ValueError("bounds [min, max] need min <= max")
    return bounds


# [min, max] visible characters
Bounds = Annotated[list[NonNegativeInt], Field(min_length=2, max_length=2), AfterValidator(_ordered)]


class LengthSection(FilterSwitch):
    required_fields: list[str] = ["instruction", "output"]
    # task ("*" = every task) → field ("*" = every field) → [min, max]
    bounds: dict[str, dict[str, Bounds]] = {
        "*": {"instruction": [2, 4000], "input": [0, 12000], "output": [1, 6000], "*": [1, 20000]},
        "creative_writing": {"output": [10, 6000]},
        "summarization": {"output": [10, 6000]},
    }
    echo_min_chars: NonNegativeInt = 8
    echo_min_share: Share = 0.8


class NoiseSection(FilterSwitch):
    mojibake_min: PositiveInt = 2
    markup_min: PositiveInt = 3
    symbol_min_chars: NonNegativeInt = 10
    symbol_max_fraction: Share = 0.6
    ellipsis_max_fraction: Share = 0.3
    ellipsis_single_line_min_chars: NonNegativeInt = 50
    ellipsis_exempt_fields: list[str] = ["instruction", "input"]


class NgWordSection(FilterSwitch):
    categories: list[str] = ["adult", "ai_boilerplate", "discriminatory", "spam"]
    extra_files: list[str] = []


class ScriptSection(FilterSwitch):
    min_chars: NonNegativeInt = 200
    min_hiragana: Share = 0.05
    min_japanese: Share = 0.1


class RepetitionSection(FilterSwitch):
    max_char_run: PositiveInt = 10
    min_lines: PositiveInt = 3
    max_duplicate_line_fraction: Share = 0.5
    min_sentences: PositiveInt = 3
    max_duplicate_sentence_fraction: Share = 0.3
    prose_fields: list[str] = ["instruction", "output"]
    ngram: PositiveInt = 10
    ngram_min_chars: NonNegativeInt = 50
    max_duplicate_ngram_fraction: Share = 0.5


class SecondOpinionSection(ParamsModel):
    languages: list[str] = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "cs", "tr", "vi", "id", "ro",
                            "hu", "da", "fi", "nb"]
    min_confidence: Share = 0.5


class LanguageSection(FilterSwitch):
    min_chars: NonNegativeInt = 10
    min_score: dict[str, Share] = {"ja": 0.5, "en": 0.3, "zh": 0.5, "foreign": 0.8}
    mixed_min_japanese: Share = 0.2
    foreign_min_words: NonNegativeInt = 8
    chinese_min_chars: NonNegativeInt = 20
    english_max_japanese: Share = 0.1
    other_language_max_score: Share = 0.995
    second_opinion: SecondOpinionSection = SecondOpinionSection()


class WordSection(FilterSwitch):
    split_mode: Literal["A", "B", "C"] = "C"
    fields: list[str] = ["instruction", "output"]
    min_chars: NonNegativeInt = 100
    ngram: PositiveInt = 10
    max_duplicate_ngram_fraction: Share = 0.6
    max_tokens: PositiveInt = 4096
    prefilter_char_ngram: PositiveInt = 5
    prefilter_min_share: Share = 0.3


FILTER_NAMES = ("decontamination", "length", "noise", "ng_words", "language", "script", "repetition", "words")


class FilterSection(ParamsModel):
    field_languages: dict[str, Language] = {"instruction": "ja", "input": "any", "output": "ja"}
    english_fields: dict[str, list[str]] = {"translation_en_ja": ["input"], "translation_ja_en": ["output"]}
    order: list[Literal[FILTER_NAMES]] = list(FILTER_NAMES)
    decontamination: DecontaminationSection = DecontaminationSection()
    length: LengthSection = LengthSection()
    noise: NoiseSection = NoiseSection()
    ng_words: NgWordSection = NgWordSection()
    script: ScriptSection = ScriptSection()
    repetition: RepetitionSection = RepetitionSection()
    language: LanguageSection = LanguageSection()
    words: WordSection = WordSection()


# ------------------------------------------------------------------ split, report


class SplitSection(ParamsModel):
    name: str = "jinstruct-ja"
    version: str | int | float = "0.1.0"   # a bare 1.0 in YAML is a number; the manifest writes str(version)
    seed: int = 20261124
    ratios: dict[str, NonNegativeFloat] = {"train": 0.98, "validation": 0.01, "test": 0.01}


class ReportSection(ParamsModel):
    examples_per_reason: NonNegativeInt = 3
    example_clusters: NonNegativeInt = 3
    sample_records: PositiveInt = 5000
    text_preview_chars: PositiveInt = 300
