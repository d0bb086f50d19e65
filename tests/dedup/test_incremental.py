"""A new release deduplicated against an earlier release's index."""

from __future__ import annotations

import re

import pytest

from jinstruct.dedup import dedup_records
from jinstruct.dedup.index import write_index
from jinstruct.records import InputError
from tests.support.dedup import FUJI_A, FUJI_Q, KYOTO_A, KYOTO_Q, frame, record

PARAMS = {"threshold": 0.8, "n_jobs": 1}


@pytest.fixture()
def release_1_index(tmp_path):
    release_1 = frame([
        record("a:1", FUJI_Q, FUJI_A),
        record("a:2", KYOTO_Q, KYOTO_A),
        record("a:3", FUJI_Q, FUJI_A),         # removed in 1.0 as an exact duplicate of a:1
        record("a:4", "はい", ""),              # short: exact key only
    ])
    outcome = dedup_records(release_1, PARAMS)
    assert outcome.index["id"].to_list() == ["a:1", "a:2", "a:4"]
    path = tmp_path / "dedup_index.parquet"
    write_index(outcome.index, outcome.identity, path)
    return path


def test_release_2_does_not_readmit_what_release_1_holds_or_removed(release_1_index):
    release_2 = frame([
        record("a:1", FUJI_Q, FUJI_A),                                   # released before: exempt
        record("a:2", KYOTO_Q, KYOTO_A),                                 # released before: exempt
        record("a:3", FUJI_Q, FUJI_A),                                   # 1.0 removed it: stays out
        record("b:1", "質問：" + FUJI_Q, FUJI_A + "参考になれば幸いです。"),  # new near duplicate of a:1
        record("b:2", KYOTO_Q, KYOTO_A),                                 # new exact duplicate of a:2
        record("b:3", "はい", ""),                                        # new short exact duplicate of a:4
        record("b:4", "お茶の種類を三つ挙げてください。", "緑茶、紅茶、烏龍茶があります。"),  # new and unique
        record("b:5", "お茶の種類を三つ挙げてください。", "緑茶、紅茶、烏龍茶があります。"),  # its duplicate in 1.1
    ])
    outcome = dedup_records(release_2, {**PARAMS, "previous_index": str(release_1_index)})
    rejected = {row["id"]: (row["reason"], row["detail"]) for row in outcome.result.rejected.iter_rows(named=True)}
    assert set(outcome.result.kept["id"]) == {"a:1", "a:2", "b:4"}
    assert rejected["a:3"] == ("duplicate_of_previous_release",
                               "duplicate of a:1 in the previous release (jaccard 1.00)")
    assert rejected["b:2"] == ("duplicate_of_previous_release",
                               "duplicate of a:2 in the previous release (jaccard 1.00)")
    assert rejected["b:3"] == ("duplicate_of_previous_release",
                               "duplicate of a:4 in the previous release (jaccard 1.00)")
    reason, detail = rejected["b:1"]
    similarity = float(re.fullmatch(r"duplicate of a:1 in the previous release \(jaccard (\d\.\d\d)\)",
                                    detail).group(1))
    assert reason == "duplicate_of_previous_release" and 0.8 <= similarity < 1.0
    assert rejected["b:5"] == ("exact_duplicate", "exact duplicate of b:4 (same normalised key, jaccard 1.00)")
    previous_rows = outcome.clusters.filter(reason="duplicate_of_previous_release")
    assert sorted(previous_rows.select("cluster_id", "id").rows()) == [
        ("a:1", "a:3"), ("a:1", "b:1"), ("a:2", "b:2"), ("a:4", "b:3")]


def test_an_index_built_with_other_settings_is_refused(release_1_index):
    with pytest.raises(InputError, match=r"other dedup settings \(ngram"):
        dedup_records(frame([record("b:1", FUJI_Q, FUJI_A)]),
                      {**PARAMS, "ngram": 4, "previous_index": str(release_1_index)})


def test_a_missing_index_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match="no dedup index here"):
        dedup_records(frame([record("b:1", FUJI_Q, FUJI_A)]),
                      {**PARAMS, "previous_index": str(tmp_path / "nothing.parquet")})
