"""The data stages on the in-process engine vs Ray (one node, simulated three nodes).

Builds the scaled-up dedup corpus (bench/dedup_corpus.py) as a converted file,
then runs the real stage scripts normalize → dedup → filter on it three times:
in-process, on a one-node Ray cluster with 2 CPUs, and on a simulated 3-node
cluster (``ray.cluster_utils.Cluster``, one CPU per node) on this machine. It
prints per stage the wall time, the 1-minute load average before and after it,
the CPU seconds of the stage process and of the Ray processes (load-independent),
the driver's peak RSS (the stage process) and its peak less the pages of Ray's
shared object store mapped into it ("own"), the peak RSS of each node's raylet and
of each Ray worker process, dedup's driver peak after each of its phases (the
stage's own log), the bytes of dedup's two shuffles (band table by (band,
bucket), candidate pairs by pair) and the bytes of the shards each stage's
workers wrote (both from the stage's log), and checks that the runs wrote
byte-identical outputs, rejects and stats. Engines may run in separate
invocations on the same ``--work`` (a long run, one engine at a time): each
engine that finishes leaves ``<work>/<engine>/bench-rows.json``, and the next
one compares its files with those of every finished engine there. Each stage's
own log is kept as ``<work>/<engine>/bench-logs/<stage>.log`` and can be read
while it runs.

    nice -n 10 python bench/ray_stages.py --records 500000 [--work /tmp/raybench]

Convert and split run in-process on both engines (sources and the final split
are small and global), so they are left out. RSS of a worker includes the pages
of the shared object store it touched, so worker figures overlap.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the checkout's root: tests.support
from dedup_corpus import build_corpus

from tests.support import stage_argv

REPO = Path(__file__).resolve().parents[1]
STAGES = ("normalize", "dedup", "filter")
COMPARED = ["data/interim/normalized.parquet", "data/interim/deduped.parquet", "data/interim/filtered.parquet",
            "data/interim/dedup_clusters.parquet", "data/interim/dedup_index.parquet",
            *(f"data/rejects/{s}.parquet" for s in STAGES), *(f"metrics/{s}.json" for s in STAGES)]


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _shmem(pid: int) -> int:
    """Bytes of shared memory (Ray's object store, mapped) in a process's RSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssShmem:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class PeakRss:
    """Samples the RSS of the stage process (driver), of every Ray worker and of each node's raylet
    (which maps the node's object store) every 0.2 s, and the CPU seconds the Ray processes
    (raylets, workers, GCS) spend during the stage: a cost per record that the load does not change."""

    def __init__(self, driver_pid: int):
        self.driver_pid, self.driver, self.workers, self.raylets = driver_pid, 0, {}, {}
        self.driver_own = 0  # the driver's RSS less its pages of the shared object store (RssShmem)
        self.cpu_start: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}
        for process in psutil.Process().children(recursive=True):
            try:
                if process.pid != driver_pid:
                    self.cpu_start[process.pid] = _cpu_seconds(process)
            except psutil.Error:
                continue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # only this benchmark's processes: the stage process, and the Ray workers of the
        # cluster this script started (other users' Ray workers share the machine)
        mine = psutil.Process()
        while not self._stop.is_set():
            for process in mine.children(recursive=True):
                try:
                    rss, cmdline = process.memory_info().rss, process.cmdline()
                    if process.pid != self.driver_pid:
                        self.cpu_last[process.pid] = _cpu_seconds(process)
                except psutil.Error:
                    continue
                if process.pid == self.driver_pid:
                    self.driver = max(self.driver, rss)
                    self.driver_own = max(self.driver_own, rss - _shmem(process.pid))
                elif cmdline and cmdline[0].startswith("ray::"):
                    self.workers[process.pid] = max(self.workers.get(process.pid, 0), rss)
                elif cmdline and cmdline[0].endswith("/raylet"):
                    self.raylets[process.pid] = max(self.raylets.get(process.pid, 0), rss)
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def ray_cpu(self) -> float:
        """CPU seconds of the Ray processes during the stage (a process born in it counts from 0)."""
        return sum(last - self.cpu_start.get(pid, 0.0) for pid, last in self.cpu_last.items())


def prepare(work: Path, source: Path, env: dict) -> None:
    """A project folder with the stage scripts, params, eval sets and the converted corpus."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "stages", work / "stages", dirs_exist_ok=True)
    shutil.copyfile(REPO / "params.yaml", work / "params.yaml")
    (work / "data/interim").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, work / "data/interim/converted.parquet")
    subprocess.run([sys.executable, "stages/fetch.py", "--eval"], cwd=work, env=env, check=True, capture_output=True)


def run_stages(work: Path, env: dict, stages: list[str]) -> list[dict]:
    rows = []
    for stage in stages:
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the stage's output goes to a file under the engine's folder, so a long run can be read as it goes
        log = work / "bench-logs" / f"{stage}.log"
        log.parent.mkdir(exist_ok=True)
        print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {work.name} {stage} started (log {log})")
        with log.open("w") as sink:
            process = subprocess.Popen(stage_argv(stage), cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT)
            peaks = PeakRss(process.pid)
            process.wait()
            peaks.stop()
        err = log.read_text()
        print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {work.name} {stage} ended")
        seconds = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        driver_cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
        if process.returncode:
            raise SystemExit(f"{stage} failed:\n{err[-3000:]}")
        shuffled = re.search(r"shuffled (\d+) bytes", err)
        shards = re.search(r"wrote (\d+) bytes of shards", err)
        rows.append({"stage": stage, "seconds": seconds, "driver_mb": peaks.driver / 2**20,
                     "driver_own_mb": peaks.driver_own / 2**20,
                     "worker_mb": sorted((rss / 2**20 for rss in peaks.workers.values()), reverse=True),
                     "raylet_mb": sorted((rss / 2**20 for rss in peaks.raylets.values()), reverse=True),
                     "load": (load_before, os.getloadavg()[0]),
                     "driver_cpu": driver_cpu, "ray_cpu": peaks.ray_cpu,
                     "shuffled_mb": int(shuffled.group(1)) / 2**20 if shuffled else None,
                     "shards_mb": int(shards.group(1)) / 2**20 if shards else None,
                     "phases": re.findall(r"ray driver peak after ([a-z ]+): (\d+ MB(?: \([^)]*\))?)", err),
                     "records_in": json.loads((work / f"metrics/{stage}.json").read_text())["records_in"]})
        # each stage's figures as soon as it ends: a run stopped in a later stage keeps them
        print(f"{work.name} {stage} figures: {json.dumps(rows[-1])}")
    return rows


def report(name: str, rows: list[dict]) -> None:
    print(f"\n{name}")
    print(f"{'stage':<10} {'records':>10} {'seconds':>8} {'rec/s':>8} {'load':>9} {'drv CPU s':>9} "
          f"{'ray CPU s':>9} {'driver MB':>10} {'own MB':>7} {'shuffle MB':>10} {'shards MB':>9}  "
          "raylet MB (each node) | worker peak MB (each)")
    for row in rows:
        workers = ", ".join(f"{mb:.0f}" for mb in row["worker_mb"][:8]) or "-"
        more = f" (+{len(row['worker_mb']) - 8} more)" if len(row["worker_mb"]) > 8 else ""
        raylets = ", ".join(f"{mb:.0f}" for mb in row["raylet_mb"]) or "-"
        shuffled = f"{row['shuffled_mb']:.1f}" if row["shuffled_mb"] is not None else "-"
        shards = f"{row['shards_mb']:.1f}" if row["shards_mb"] is not None else "-"
        load = f"{row['load'][0]:.1f}–{row['load'][1]:.1f}"
        print(f"{row['stage']:<10} {row['records_in']:>10,} {row['seconds']:>8.1f} "
              f"{row['records_in'] / row['seconds']:>8,.0f} {load:>9} {row['driver_cpu']:>9.1f} "
              f"{row['ray_cpu']:>9.1f} {row['driver_mb']:>10.0f} {row['driver_own_mb']:>7.0f} {shuffled:>10} "
              f"{shards:>9}  {raylets} | {workers}{more}")
    print(f"{'total':<10} {'':>10} {sum(r['seconds'] for r in rows):>8.1f}")
    for row in rows:
        if row["phases"]:
            print(f"{row['stage']} driver peak RSS by phase: "
                  + "; ".join(f"{phase} {mb}" for phase, mb in row["phases"]))


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/raybench"))
    parser.add_argument("--block-records", type=int, default=50_000)
    parser.add_argument("--only", choices=("inprocess", "ray1", "ray3"), action="append")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        help="a prefix of normalize dedup filter")
    args = parser.parse_args()
    from ray.cluster_utils import Cluster

    args.work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"code {commit.stdout.strip() or '?'} ({REPO}), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    corpus = args.work / f"converted-{args.records}.parquet"
    if not corpus.exists():
        started = time.perf_counter()
        build_corpus(args.records).drop("kind", "truth").sort("id").write_parquet(corpus)
        print(f"corpus of {args.records:,} records built in {time.perf_counter() - started:.0f}s")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "JINSTRUCT_"))}
    base["JINSTRUCT_MIRROR"] = str(REPO.parent / "shared" / "mirror")
    ray_env = {**base, "JINSTRUCT_ENGINE": "ray", "JINSTRUCT_RAY_BLOCK_RECORDS": str(args.block_records)}
    results = {}
    for name in args.only or ("inprocess", "ray1", "ray3"):
        work = args.work / name
        shutil.rmtree(work, ignore_errors=True)
        prepare(work, corpus, base)
        if name == "inprocess":
            results[name] = run_stages(work, base, args.stages)
        else:
            started = time.perf_counter()
            nodes = 1 if name == "ray1" else 3
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2 if nodes == 1 else 1,
                                                                    "include_dashboard": False})
            for _ in range(nodes - 1):
                cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            print(f"{name}: cluster of {nodes} node(s) up in {time.perf_counter() - started:.1f}s")
            try:
                results[name] = run_stages(work, {**ray_env, "RAY_ADDRESS": cluster.address}, args.stages)
            finally:
                cluster.shutdown()
        report(name, results[name])
        (work / "bench-rows.json").write_text(json.dumps({"stages": args.stages, "rows": results[name]}))
        # compare with every engine that finished the same stages on this corpus, in this invocation or an
        # earlier one (engines may run one invocation each; an engine's folder is cleared when it starts)
        for other in ("inprocess", "ray1", "ray3"):
            done = args.work / other / "bench-rows.json"
            if other == name or not done.exists() or json.loads(done.read_text())["stages"] != args.stages:
                continue
            written = [f for f in COMPARED if any(stage in f for stage in args.stages)]
            differ = [f for f in written if (work / f).read_bytes() != (args.work / other / f).read_bytes()]
            print(f"{name} vs {other}: " + ("byte-identical outputs, rejects and stats" if not differ
                                            else f"DIFFERENT: {differ}"))


if __name__ == "__main__":
    main()
