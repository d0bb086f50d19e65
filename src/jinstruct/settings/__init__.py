"""Typed settings: one frozen model per params.yaml section.

params.yaml is the user's file; the defaults here are the library's (what a
standalone command uses when there is no params.yaml, and what fills a key a
user's section leaves out). ``params.stage_settings`` builds a section's model
once from params.yaml + ``--set`` overrides, for the DVC stages and the
standalone commands alike. An unknown key or a value of the wrong type is one
``InputError`` line naming the key and, for unknown keys, the allowed ones.
"""

from __future__ import annotations

from jinstruct.settings.base import ParamsModel, validate_section
from jinstruct.settings.data import (
    DedupSection,
    FetchSection,
    FilterSection,
    NormalizeSection,
    ReportSection,
    SourcesSection,
    SplitSection,
)
from jinstruct.settings.model import EvalSection, LoraSection, ModelSection, TorchSection, TrainSection

SECTIONS: dict[str, type[ParamsModel]] = {
    "fetch": FetchSection,
    "sources": SourcesSection,
    "eval_sets": SourcesSection,
    "normalize": NormalizeSection,
    "dedup": DedupSection,
    "filter": FilterSection,
    "split": SplitSection,
    "torch": TorchSection,
    "model": ModelSection,
    "lora": LoraSection,
    "train": TrainSection,
    "eval": EvalSection,
    "report": ReportSection,
}

__all__ = ["SECTIONS", "ParamsModel", "validate_section"]
