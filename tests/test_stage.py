import json
from pathlib import Path

import polars as pl
import pytest

from jinstruct.outputs import OutputSet
from jinstruct.records import write_parquet
from jinstruct.stage import AccountingError, StageResult, partition, read_input, run_stage, stage_stats
from tests.support.records import record


def test_partition_moves_rows_with_a_reason_to_rejects():
    frame = pl.DataFrame([record(i) for i in range(4)]).with_columns(
        reason=pl.when(pl.col("id").str.ends_with("1")).then(pl.lit("too_short")),
        detail=pl.lit("len=1"))
    result = partition(frame, "filter")
    assert result.kept["id"].to_list() == ["fixture:0", "fixture:2", "fixture:3"]
    assert "reason" not in result.kept.columns
    assert (result.rejected.select("id", "stage", "reason", "detail").row(0)
            == ("fixture:1", "filter", "too_short", "len=1"))


def test_stats_count_per_source_and_reason():
    frame = pl.DataFrame([record(0), record(1, source="other"), record(2, source="other")])
    result = partition(frame.with_columns(
        reason=pl.when(pl.col("source") == "other").then(pl.lit("dup")), detail=pl.lit("")), "dedup")
    stats = stage_stats("dedup", frame, result)
    assert stats["by_source"] == {"fixture": {"in": 1, "out": 1, "rejected": 0},
                                  "other": {"in": 2, "out": 0, "rejected": 2}}
    assert stats["rejected_by_reason"] == {"dup": 2}
    assert stats["rejected_by_reason_task"] == {"dup": {"open_qa": 2}}


def test_a_lost_record_stops_the_stage_before_anything_is_written(tmp_path):
    source = tmp_path / "in.parquet"
    write_parquet(pl.DataFrame([record(i) for i in range(3)]), source)

    def leaky(df, _settings):
        return StageResult(df.head(2), partition(df.head(0).with_columns(reason=pl.lit(None, pl.String),
                                                                         detail=pl.lit("")), "x").rejected)

    with pytest.raises(AccountingError, match="3 records in but 2 out"):
        run_stage("leaky", leaky, None, read_input(source),
                  OutputSet(tmp_path / "out.parquet", tmp_path / "rej.parquet", tmp_path / "s.json"))
    assert not (tmp_path / "out.parquet").exists()


def test_run_stage_writes_outputs_and_stats(tmp_path):
    source = tmp_path / "in.parquet"
    write_parquet(pl.DataFrame([record(i) for i in range(3)]), source)
    keep_all = lambda df, _settings: partition(  # noqa: E731
        df.with_columns(reason=pl.lit(None, pl.String), detail=pl.lit(None, pl.String)), "noop")
    run_stage("noop", keep_all, None, read_input(source),
              OutputSet(tmp_path / "out.parquet", tmp_path / "rej.parquet", tmp_path / "s.json"))
    stats = json.loads((tmp_path / "s.json").read_text())
    assert (stats["records_in"], stats["records_out"], stats["records_rejected"]) == (3, 3, 0)
    assert pl.read_parquet(tmp_path / "out.parquet").height == 3


def test_a_lost_record_and_a_duplicated_one_do_not_balance_out():
    frame = pl.DataFrame([record(i) for i in range(3)])
    # fixture:2 lost, fixture:0 written twice: the counts (3 in, 3 out) agree, the ids do not
    swapped = StageResult(pl.concat([frame.head(2), frame.head(1)]),
                          partition(frame.head(0).with_columns(reason=pl.lit(None, pl.String), detail=pl.lit("")),
                                    "x").rejected)
    with pytest.raises(AccountingError, match="2 id\\(s\\) do not balance, e.g. 'fixture:0': 1 in, 2 out"):
        stage_stats("x", frame, swapped)


def test_a_record_both_kept_and_rejected_is_caught():
    frame = pl.DataFrame([record(i) for i in range(2)])
    both = partition(frame.with_columns(reason=pl.lit("dup"), detail=pl.lit("")), "x")
    result = StageResult(frame.slice(1, 1), both.rejected.slice(1, 1))  # fixture:1 in both, fixture:0 nowhere
    with pytest.raises(AccountingError, match="'fixture:0': 1 in, 0 out"):
        stage_stats("x", frame, result)


def test_a_renamed_id_is_a_lost_and_an_invented_record():
    frame = pl.DataFrame([record(i) for i in range(2)])
    renamed = frame.with_columns(id=pl.when(pl.col("id") == "fixture:1").then(pl.lit("other:9")).otherwise("id"))
    empty = partition(frame.head(0).with_columns(reason=pl.lit(None, pl.String), detail=pl.lit("")), "x").rejected
    with pytest.raises(AccountingError, match=r"2 id\(s\) do not balance, e.g. 'fixture:1': 1 in, 0 out"):
        stage_stats("x", frame, StageResult(renamed, empty))


def test_a_stage_that_cannot_write_ends_with_one_line_and_exit_code_3(tmp_path, capsys):
    from jinstruct.stage import stage_main

    target = Path("/sys/jinstruct-stage-test.parquet")
    try:
        target.write_bytes(b"")
        target.unlink()
        pytest.skip("/sys is writable on this machine")
    except OSError:
        pass
    source = tmp_path / "in.parquet"
    write_parquet(pl.DataFrame([record(i) for i in range(2)]), source)
    keep_all = lambda df, _settings: partition(  # noqa: E731
        df.with_columns(reason=pl.lit(None, pl.String), detail=pl.lit(None, pl.String)), "x")
    outputs = OutputSet(target, tmp_path / "r.parquet", tmp_path / "s.json")
    with pytest.raises(SystemExit) as stopped:
        stage_main("x", lambda: run_stage("x", keep_all, None, read_input(source), outputs))
    assert stopped.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("x: error: cannot write or read /sys") and "Traceback" not in err[0]
