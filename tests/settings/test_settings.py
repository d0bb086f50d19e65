"""Typed settings: every params section refuses a typo naming the allowed keys, and wrong types in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from jinstruct.params import settings_from, stage_settings
from jinstruct.records import InputError
from jinstruct.settings import SECTIONS
from jinstruct.text.normalize import RULE_NAMES
from jinstruct.text.pii import PII_KINDS
from tests.support import REPO_ROOT

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))

# One real key per section (and nested sub-sections), misspelt, with keys that must be named as allowed.
TYPOS = [
    ("fetch", {"mirors": []}, "fetch.mirors", ["mirrors", "max_archive_bytes", "timeout_seconds"]),
    ("sources", {"tanaka": {**PARAMS["sources"]["tanaka"], "licence": "x"}}, "sources.tanaka.licence",
     ["license", "adapter", "files"]),
    ("eval_sets", {"jnli": {**PARAMS["eval_sets"]["jnli"], "tsk": "jnli"}}, "eval_sets.jnli.tsk", ["task"]),
    ("normalize", {"rules": {"wave_dashes": False}}, "normalize.rules.wave_dashes", list(RULE_NAMES)),
    ("normalize", {"pi": {}}, "normalize.pi", ["rules", "pii"]),
    ("dedup", {"treshold": 0.1}, "dedup.treshold", ["threshold", "containment", "previous_index"]),
    ("filter", {"lenght": {"enabled": False}}, "filter.lenght", ["length", "order", "words"]),
    ("filter", {"repetition": {"max_char_rn": 3}}, "filter.repetition.max_char_rn", ["max_char_run"]),
    ("filter", {"length": {"echo_min_char": 3}}, "filter.length.echo_min_char", ["echo_min_chars", "bounds"]),
    ("split", {"ratio": {}}, "split.ratio", ["ratios", "seed"]),
    ("torch", {"thread": 4}, "torch.thread", ["threads"]),
    ("model", {"tiny": {"layer": 2}}, "model.tiny.layer", ["layers", "heads"]),
    ("model", {"bse": "tiny"}, "model.bse", ["base", "revision"]),
    ("lora", {"rnk": 8}, "lora.rnk", ["rank", "alpha"]),
    ("train", {"max_step": 1}, "train.max_step", ["max_steps", "epochs"]),
    ("eval", {"files": {"jnlii": None}}, "eval.files.jnlii", ["jnli", "marc_ja"]),
    ("eval", {"kshot": 1}, "eval.kshot", ["k_shot"]),
    ("report", {"example_cluster": 1}, "report.example_cluster", ["example_clusters"]),
]


def test_every_section_of_params_yaml_has_a_typo_case():
    assert {section for section, *_ in TYPOS} == set(PARAMS) == set(SECTIONS)


@pytest.mark.parametrize(("section", "given", "where", "allowed"), TYPOS, ids=[t[2] for t in TYPOS])
def test_a_typo_is_refused_naming_the_allowed_keys(section, given, where, allowed):
    with pytest.raises(InputError) as refused:
        settings_from(section, given)
    message = str(refused.value)
    assert message.startswith(f"{where}: unknown key (allowed: ")
    listed = message.split("(allowed: ", 1)[1].rstrip(")").split(", ")
    assert set(allowed) <= set(listed)
    assert "\n" not in message


@pytest.mark.parametrize(("section", "override", "expected"), [
    ("filter", "length.echo_min_chars=abc", "filter.length.echo_min_chars: input should be a valid integer"),
    ("filter", "length.bounds.*.output=[5, -1]",
     "filter.length.bounds.*.output.1: input should be greater than or equal to 0"),
    ("filter", "length.bounds.summarization.output=[50, 10]",
     "filter.length.bounds.summarization.output: bounds [min, max] need min <= max"),
    ("filter", "language.min_score.ja=1.5", "filter.language.min_score.ja: input should be less than or equal to 1"),
    ("filter", "order=[length, lenght]", "filter.order.1: input should be"),
    ("dedup", "threshold=0", "dedup.threshold: input should be greater than 0"),
    ("dedup", "verify=fuzzy", "dedup.verify: input should be 'edits', 'signature' or 'exact'"),
    ("normalize", "rules.wave_dash=maybe", "normalize.rules.wave_dash: input should be a valid boolean"),
    ("train", "device=gpu", "train.device: input should be 'auto', 'cpu', 'cuda' or 'mps'"),
    ("eval", "limit={jnlii: 5}", "eval.limit: unknown task jnlii (known: jnli, jcommonsenseqa, marc_ja, perplexity)"),
    ("eval", "limit={jnli: 0}", "eval.limit: the limit of jnli must be a positive number"),
    ("eval", "limit=0", "eval.limit: a positive number of items, or one per task"),
])
def test_a_value_of_the_wrong_type_or_range_is_one_line(section, override, expected):
    with pytest.raises(InputError) as refused:
        stage_settings(section, REPO_ROOT / "params.yaml", [override])
    assert str(refused.value).startswith(expected)
    assert "\n" not in str(refused.value)


def test_library_defaults_are_the_values_params_yaml_ships():
    # params.yaml is the user's file; the defaults are the library's. They agree except where the
    # default build chooses differently on purpose (two threads; its own sources first).
    on_purpose = {"dedup": {"n_jobs", "source_priority"}}
    for name, model in SECTIONS.items():
        if name in ("sources", "eval_sets"):
            continue
        defaults, shipped = model().as_params(), PARAMS[name]
        differing = {key for key in set(defaults) | set(shipped) if defaults.get(key) != shipped.get(key)}
        assert differing == on_purpose.get(name, set()), name


def test_the_switch_lists_follow_the_rule_table_and_the_pii_kinds():
    assert tuple(SECTIONS["normalize"]().rules.as_params()) == RULE_NAMES
    assert tuple(SECTIONS["normalize"]().pii.as_params()) == PII_KINDS


def test_a_params_file_section_overlays_the_defaults_key_by_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("filter:\n  length:\n    bounds:\n      summarization: {output: [20, 6000]}\n", encoding="utf-8")
    settings = stage_settings("filter", path, ["length.echo_min_chars=12"])
    assert settings.length.bounds["summarization"]["output"] == [20, 6000]
    assert settings.length.bounds["*"]["output"] == [1, 6000]  # the default task bounds stay
    assert settings.length.echo_min_chars == 12
    assert settings.noise.mojibake_min == 2


@pytest.mark.parametrize(("command", "assignment", "expected"), [
    ("dedup", "treshold=0.1", "jinstruct dedup: error: dedup.treshold: unknown key (allowed: fields, ngram,"),
    ("filter", "lenght.enabled=false",
     "jinstruct filter: error: filter.lenght: unknown key (allowed: field_languages,"),
    ("filter", "length.echo_min_chars=abc", "jinstruct filter: error: filter.length.echo_min_chars: input should be"),
    ("filter", "length.bounds.*.output=[5, -1]", "jinstruct filter: error: filter.length.bounds.*.output.1:"),
])
def test_commands_refuse_bad_set_values_in_one_line_before_reading(tmp_path, command, assignment, expected):
    given = tmp_path / "in.jsonl"
    given.write_text('{"text": "こんにちは"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "jinstruct", command, "--input", str(given),
                           "--output", str(tmp_path / "out.jsonl"), "--text-field", "text", "--set", assignment],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr
    assert not (tmp_path / "out.jsonl").exists()
