"""A stage's outputs are replaced as one set: killed at every publish step, never a mix; one run at a time."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import jinstruct.stage as stage_module
from jinstruct.cli import main as cli_main
from jinstruct.outputs import OutputSet, locked, publish, settle
from tests.support import REPO_ROOT
from tests.support.dedup import FUJI_A, FUJI_Q, KYOTO_A, KYOTO_Q

NAMES = ("out.jsonl", "rejects.jsonl", "stats.json", "clusters.jsonl", "index.parquet")
ARGS = ["dedup", "--input", "in.jsonl", "--output", "out.jsonl", "--rejects", "rejects.jsonl",
        "--stats", "stats.json", "--clusters", "clusters.jsonl", "--index", "index.parquet"]
PUBLISH_RENAMES = len(NAMES) + 1  # the journal (the commit point), then one per output

# One interpreter imports jinstruct once, then forks one `jinstruct dedup` per folder (before polars
# has started a thread, so forking is safe). Child k kills itself with SIGKILL, as `kill -9` would,
# when it is about to do its publish rename number k (a rename onto a path that is not a temporary
# file). Prints each child's exit status.
KILLER = """
import json, os, signal, sys
import jinstruct.pipeline.dedup, jinstruct.commands.dedup
from jinstruct.cli import main
args, folders = json.loads(sys.argv[1]), sys.argv[2:]
statuses = []
for kill_at, folder in enumerate(folders):
    pid = os.fork()
    if pid == 0:
        os.chdir(folder)
        real_replace, done = os.replace, []
        def replace(src, dst, *rest, **kwargs):
            if not str(dst).endswith(".tmp"):
                if len(done) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                done.append(dst)
            return real_replace(src, dst, *rest, **kwargs)
        os.replace = replace
        os._exit(main(args))
    statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(statuses))
"""


def _records(texts: list[tuple[str, str]]) -> str:
    rows = [{"id": f"r:{n}", "task": "open_qa", "instruction": q, "input": "", "output": a}
            for n, (q, a) in enumerate(texts)]
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


FIRST = _records([(KYOTO_Q, KYOTO_A), (KYOTO_Q, KYOTO_A), (FUJI_Q, FUJI_A)])
SECOND = _records([(FUJI_Q, FUJI_A), (FUJI_Q, FUJI_A), (FUJI_Q, FUJI_A), (KYOTO_Q, KYOTO_A)])


def _digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in NAMES if (folder / name).exists()}


def _dedup_in(folder: Path) -> int:
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        return cli_main(ARGS)
    finally:
        os.chdir(cwd)


def _output_set(folder: Path) -> OutputSet:
    return OutputSet(folder / "out.jsonl", folder / "rejects.jsonl", folder / "stats.json",
                     {"clusters": folder / "clusters.jsonl", "index": folder / "index.parquet"})


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A folder holding the first run's set, and the digests of the first and the second run's sets."""
    base = tmp_path_factory.mktemp("sets")
    digests = []
    for name, text in (("first", FIRST), ("second", SECOND)):
        (base / name).mkdir()
        (base / name / "in.jsonl").write_text(text, encoding="utf-8")
        assert _dedup_in(base / name) == 0
        digests.append(_digests(base / name))
    first, second = digests
    assert all(first[name] != second[name] for name in NAMES)  # every file tells the two runs apart
    return base / "first", first, second


def test_a_dedup_run_killed_at_every_publish_step_leaves_one_whole_set(tmp_path, sets):
    first_folder, first, second = sets
    folders = []
    for kill_at in range(PUBLISH_RENAMES):
        folder = tmp_path / f"killed_at_{kill_at}"
        shutil.copytree(first_folder, folder)
        (folder / "in.jsonl").write_text(SECOND, encoding="utf-8")
        folders.append(folder)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", KILLER, json.dumps(ARGS), *map(str, folders)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [-signal.SIGKILL] * PUBLISH_RENAMES
    for kill_at, folder in enumerate(folders):
        outputs = _output_set(folder)
        committed = outputs.journal.exists()
        assert committed == (kill_at > 0)
        if not committed:
            assert _digests(folder) == first  # nothing of the killed run is visible
        with locked(outputs):  # what the next run, or a reader of the set, does first
            settle(outputs)
        assert _digests(folder) == (second if committed else first), kill_at
        assert sorted(path.name for path in folder.iterdir()) == sorted([*NAMES, "in.jsonl", ".out.jsonl.lock"])


def test_a_second_concurrent_run_fails_fast_and_the_first_completes(tmp_path, sets, monkeypatch, capfd):
    _, _, second = sets
    (tmp_path / "in.jsonl").write_text(SECOND, encoding="utf-8")
    inside, release = threading.Event(), threading.Event()

    def held_publish(*args, **kwargs):  # the first run waits inside its lock until told to go on
        inside.set()
        assert release.wait(60)
        return publish(*args, **kwargs)

    monkeypatch.setattr(stage_module, "publish", held_publish)
    monkeypatch.chdir(tmp_path)
    codes = []
    first = threading.Thread(target=lambda: codes.append(cli_main(ARGS)))
    first.start()
    assert inside.wait(60)
    capfd.readouterr()
    started = time.monotonic()
    assert cli_main(ARGS) == 2  # a separate open of the lock file: flock refuses it, as for another process
    assert time.monotonic() - started < 10
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "another run is writing these outputs" in lines[0], lines
    release.set()
    first.join(60)
    assert codes == [0]
    assert _digests(tmp_path) == second


def test_leftover_temporary_files_of_a_killed_run_are_removed_and_reported(tmp_path, capfd):
    (tmp_path / "in.jsonl").write_text(FIRST, encoding="utf-8")
    leftovers = [tmp_path / ".out.jsonl.k2j3.tmp", tmp_path / ".stats.json.x81.tmp",
                 tmp_path / ".out.jsonl.publish.q1.tmp"]
    for path in leftovers:
        path.write_text("half", encoding="utf-8")
    assert _dedup_in(tmp_path) == 0
    assert not any(path.exists() for path in leftovers)
    assert "removed 3 temporary file(s) of an interrupted run" in capfd.readouterr().err


def test_two_outputs_on_one_path_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(Exception, match="named as both records and rejects"):
        OutputSet(tmp_path / "a.jsonl", tmp_path / "a.jsonl").targets()


def test_a_writer_that_fails_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n", encoding="utf-8")
    outputs = OutputSet(target, stats=tmp_path / "stats.json")

    def broken(path: Path) -> None:
        path.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with locked(outputs), pytest.raises(OSError):
        publish(outputs, {"records": lambda path: path.write_text("new\n", encoding="utf-8"), "stats": broken})
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == [".out.jsonl.lock", "out.jsonl"]


def test_a_killed_folder_swap_is_undone_and_its_staging_folders_removed(tmp_path, caplog):
    from jinstruct.outputs import settle_folder

    target = tmp_path / "raw"
    aside = tmp_path / ".raw.old-x1"  # killed between moving the old folder aside and moving the new one in
    (aside / "raw").mkdir(parents=True)
    (aside / "raw" / "provenance.json").write_text("previous", encoding="utf-8")
    (tmp_path / ".raw.staging-abc" / "dolly").mkdir(parents=True)
    with caplog.at_level("INFO", logger="jinstruct"):
        settle_folder(target)
    assert (target / "provenance.json").read_text(encoding="utf-8") == "previous"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["raw"]
    assert "removed 2 folder(s) of an interrupted run" in caplog.text
