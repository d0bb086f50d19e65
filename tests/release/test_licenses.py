"""Licence derivation for the card, and the refusals for unknown / non-commercial sources."""

from __future__ import annotations

import pytest
from huggingface_hub import DatasetCard

from jinstruct.records import InputError
from jinstruct.release.card import render_card
from jinstruct.release.licenses import derive_licence, parse_licence
from jinstruct.release.publish import publish
from tests.support.publish import make_project


@pytest.mark.parametrize("text, spdx", [
    ("CC BY-SA 4.0", "CC-BY-SA-4.0"), ("cc-by-sa-3.0", "CC-BY-SA-3.0"), ("CC-BY-2.0-FR", "CC-BY-2.0-FR"),
    ("CC BY 2.0 FR", "CC-BY-2.0-FR"), ("Apache 2.0", "Apache-2.0"), ("apache-2.0", "Apache-2.0"),
    ("Creative Commons BY-NC-SA 4.0", "CC-BY-NC-SA-4.0"),
])
def test_licence_strings_are_recognised(text, spdx):
    assert parse_licence(text).spdx == spdx


@pytest.mark.parametrize("text", ["", None, "see website", "CC-BY-ND-4.0", "GPL-ish"])
def test_unrecognised_licences_are_unknown(text):
    assert parse_licence(text) is None


def _manifest(licences: dict[str, str]) -> dict:
    return {"name": "x", "version": "1.0.0", "dataset_hash": "0" * 64,
            "splits": {"train": {"file": "train.parquet", "records": 2}},
            "counts": {"train": {name: {"open_qa": 1} for name in licences}},
            "provenance": {"sources": {name: {"license": licence, "files": [{"url": f"https://example.org/{name}"}]}
                                       for name, licence in licences.items()}}}


def test_share_alike_plus_apache_gives_a_share_alike_card(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(render_card(_manifest({"dolly_ja": "CC BY-SA 3.0", "alpaca": "Apache-2.0"})), encoding="utf-8")
    card = DatasetCard.load(path)
    assert card.data.license == "cc-by-sa-3.0"
    assert "share-alike terms of CC-BY-SA-3.0 apply to the collection" in card.text
    assert "Apache-2.0 material is included with its attribution notices kept" in card.text


def test_share_alike_versions_resolve_to_the_later_one():
    decision = derive_licence({"a": "CC-BY-SA-3.0", "b": "CC-BY-SA-4.0", "c": "CC-BY-2.0-FR"})
    assert (decision.hub_id, decision.spdx) == ("cc-by-sa-4.0", "CC-BY-SA-4.0")


def test_permissive_only_sources():
    assert derive_licence({"a": "Apache-2.0", "b": "apache 2.0"}).hub_id == "apache-2.0"
    assert derive_licence({"a": "Apache-2.0", "b": "MIT"}).hub_id == "other"


def test_clashing_share_alike_terms_defer_to_the_record_column():
    decision = derive_licence({"a": "CC-BY-SA-4.0", "b": "CC-BY-NC-SA-4.0"})
    assert decision.hub_id == "other" and decision.non_commercial == {"b": "CC-BY-NC-SA-4.0"}


def test_unknown_and_non_commercial_sources_are_refused_unless_allowed(tmp_path):
    project = make_project(tmp_path / "project",
                           licences={"tanaka": "see the corpus website", "jcommonsenseqa": "CC-BY-NC-SA-4.0"})
    processed = project / "data/processed"
    with pytest.raises(InputError, match=r"unknown licence for source\(s\) tanaka .*--allow-unknown-license"):
        publish(processed, "me/x", dry_run_dir=tmp_path / "a")
    with pytest.raises(InputError,
                       match=r"non-commercial licence for source\(s\) jcommonsenseqa .*--allow-noncommercial"):
        publish(processed, "me/x", dry_run_dir=tmp_path / "b", allow_unknown_license=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    publish(processed, "me/x", dry_run_dir=tmp_path / "c", allow_unknown_license=True, allow_noncommercial=True)
    card = DatasetCard.load(tmp_path / "c" / "README.md")
    assert card.data.license == "other"
    assert "`tanaka`: see the corpus website" in card.text
