"""`make bench`: every benchmark in one run, appended as a dated section to bench/RESULTS.md.

Starts what it needs: PostgreSQL and Redis when they are down (as .ci/run does), a moto S3-API
server, and its own `mizual serve` / `mizual api` + `mizual worker` processes on free ports with
throw-away data. Figures are min / median / max over repeated runs; each module's docstring says
how it measures. The readings under the table (what bounds a figure that misses its goal) are
written by hand after looking at a run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    ceiling,
    db_ops,
    first_start,
    flux_path,
    flux_poll,
    imaging_compare,
    memory,
    overhead,
    throughput,
)
from bench.common import (
    ROOT,
    Distributed,
    Embedded,
    commit,
    ensure_services,
    machine,
    percentile,
    spread,
    started,
)
from tests.support import S3Server

RESULTS = ROOT / "bench" / "RESULTS.md"
WORKER_COUNTS = (1, 2, 4)
FLUX_RUNS = 3
POLL_ENV = {"NOOP_EDIT_DELAY_SECONDS": "0.1"}  # edits still progressing while polled


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Table:
    def __init__(self) -> None:
        self.rows = [
            "| figure | min | median | max | goal | met |",
            "|---|---|---|---|---|---|",
        ]

    def add(
        self,
        name: str,
        values: list[float],
        unit: str,
        goal: str = "",
        ok: bool | None = None,
        digits: int = 1,
    ) -> None:
        low, mid, high = spread(values)
        verdict = "" if ok is None else ("yes" if ok else "**no**")
        self.rows.append(
            f"| {name} | {low:.{digits}f} | {mid:.{digits}f} | {high:.{digits}f} {unit} "
            f"| {goal} | {verdict} |"
        )


def orchestration(folder: Path, s3: S3Server, table: Table, notes: list[str]) -> None:
    stages: dict[str, dict[str, float]] = {}
    rates: dict[str, dict[int, list[float]]] = {"embedded": {}, "distributed": {}}
    polls: dict[str, list[dict[str, Any]]] = {}
    overheads: dict[str, dict[str, Any]] = {}

    for workers in WORKER_COUNTS:
        log(f"embedded, MAX_WORKERS={workers}")
        with started(Embedded(folder, workers)) as stack:
            if workers == 1:
                overheads["embedded"] = overhead.measure(stack)
            rates["embedded"][workers] = throughput.edits_per_second(stack)
    log("embedded, 100 pollers")
    with started(Embedded(folder, 2, POLL_ENV)) as stack:
        polls["embedded"] = throughput.pollers(stack)

    with started(Distributed(folder, s3)) as stack:
        assert isinstance(stack, Distributed)
        for workers in WORKER_COUNTS:
            log(f"distributed, CELERY_CONCURRENCY={workers}")
            stack.workers(1, workers)
            if workers == 1:
                overheads["distributed"] = overhead.measure(stack)
            rates["distributed"][workers] = throughput.edits_per_second(stack)
        log("distributed, 100 pollers")
        stack.workers(1, 2, POLL_ENV)
        polls["distributed"] = throughput.pollers(stack)
        log("distributed, 100 pollers on edits all finished")
        settled = throughput.settled_pollers(stack)
    log("ceiling: a one-route FastAPI app, 100 pollers")
    bare = ceiling.measure()

    goals = {"embedded": 15.0, "distributed": 40.0}
    for mode, result in overheads.items():
        goal = goals[mode]
        table.add(
            f"{mode}: overhead per edit p50 (ms; 1 MP, noop, {overhead.EDITS} edits x "
            f"{overhead.ROUNDS})",
            result["p50"],
            "ms",
            f"≤ {goal:.0f} ms",
            statistics.median(result["p50"]) <= goal,
        )
        table.add(f"{mode}: overhead per edit p95 (ms)", result["p95"], "ms")
        stages[mode] = result["stages"]
    for mode, by_count in rates.items():
        for workers, values in by_count.items():
            what = "MAX_WORKERS" if mode == "embedded" else "CELERY_CONCURRENCY"
            table.add(f"{mode}: edits/s, {what}={workers} ({throughput.BATCH}/batch)", values, "/s")
    for mode, runs in polls.items():
        rps = [run["rps"] for run in runs]
        p99 = [run["p99_ms"] for run in runs]
        table.add(
            f"{mode}: GET /edit/{{uuid}} req/s, {throughput.POLLERS} pollers, "
            f"{throughput.POLL_SECONDS:.0f} s",
            rps,
            "req/s",
            "≥ 5,000",
            statistics.median(rps) >= 5000,
            0,
        )
        ceiling_rps = statistics.median(run["rps"] for run in bare)
        shares = [100 * value / ceiling_rps for value in rps]
        table.add(
            f"{mode}: … as a share of the ceiling's median in this run",
            shares,
            "%",
            "≥ 55 %",
            statistics.median(shares) >= 55,
            0,
        )
        table.add(f"{mode}: … p50 latency", [run["p50_ms"] for run in runs], "ms")
        table.add(f"{mode}: … p99 latency", p99, "ms", "≤ 20 ms", statistics.median(p99) <= 20)
        table.add(f"{mode}: … stale reads", [run["stale"] for run in runs], "", "0", None, 0)
        notes.append(
            f"{mode} pollers: {sum(r['requests'] for r in runs)} answers, "
            f"{sum(r['in_progress'] for r in runs)} of them of unfinished edits, "
            f"{sum(r['errors'] for r in runs)} not 200; in the 3 s of warm-up before each run "
            f"(not in the table): p99 {', '.join(str(round(r['warmup_p99_ms'])) for r in runs)}"
            " ms, "
            f"{sum(r['warmup_stale'] for r in runs)} stale reads."
        )
    # What bounds the distributed tail: the same API and Redis once the edits' own work no
    # longer shares the cores with them.
    table.add(
        "distributed, the edits all finished: req/s (the API and Redis alone)",
        [run["rps"] for run in settled],
        "req/s",
        "",
        None,
        0,
    )
    table.add(
        "distributed, the edits all finished: … p99 latency",
        [run["p99_ms"] for run in settled],
        "ms",
    )
    name = "ceiling: the same pollers on a one-route FastAPI app (bench/ceiling.py)"
    table.add(f"{name}, req/s", [run["rps"] for run in bare], "req/s", "", None, 0)
    table.add("ceiling: … p99 latency", [run["p99_ms"] for run in bare], "ms")
    for mode, medians in stages.items():
        notes.append(
            f"{mode} stage medians (ms): "
            + ", ".join(f"{name} {value:.1f}" for name, value in medians.items())
        )


def memory_figures(folder: Path, s3: S3Server, table: Table, notes: list[str]) -> None:
    log("memory, embedded, 50 MP")
    embedded = memory.embedded(folder)
    log("memory, distributed, 50 MP")
    distributed = memory.distributed(folder, s3)
    table.add("embedded: server RSS peak after 1 MP edits", embedded["api_1mp"], "MB", digits=0)
    table.add(
        "embedded: server RSS peak after a 50 MP edit (API + worker in one)",
        embedded["process_50mp"],
        "MB",
        digits=0,
    )
    table.add(
        "distributed: API RSS peak after 1 MP edits",
        distributed["api_1mp"],
        "MB",
        "≤ 120 MB",
        statistics.median(distributed["api_1mp"]) <= 120,
        0,
    )
    table.add(
        f"distributed: … after {memory.CONCURRENT_UPLOADS} more, {memory.AT_ONCE} at a time",
        distributed["api_1mp_concurrent"],
        "MB",
        digits=0,
    )
    # No goal: issue 21's ≤ 120 MB is for 1 MP edits. A 50 MP upload sent as JSON is a 20 MB
    # body, then the 15 MB photo and its checking decode (~33 MB), above the idle ~110 MB.
    table.add(
        "distributed: API RSS peak after 50 MP uploads", distributed["api_50mp"], "MB", digits=0
    )
    table.add(
        "distributed: Celery main process RSS peak", distributed["worker_main"], "MB", digits=0
    )
    table.add(
        "distributed: worker pool process RSS peak, 50 MP 'make it black and white'",
        distributed["worker_pool_50mp"],
        "MB",
        "≤ 250 MB",
        statistics.median(distributed["worker_pool_50mp"]) <= 250,
        0,
    )
    notes.append(f"The 50 MP photo is a {embedded['photo_mb']:.1f} MB JPEG (8660 x 5774, q90).")


def imaging_figures(folder: Path, table: Table, notes: list[str]) -> None:
    log("imaging: pyvips against Pillow")
    result = imaging_compare.measure(folder)
    times, peaks = result["times_ms"], result["peaks_mb"]
    pillow_t = times["Pillow draft progressive"]
    for kind in ("pyvips jpeg_preview", "pyvips progressive", "Pillow draft progressive"):
        table.add(f"24 MP JPEG → 1024 px: {kind}", times[kind], "ms")
    for kind in ("pyvips jpeg_preview", "pyvips progressive"):
        speedups = [p / v for p, v in zip(pillow_t, times[kind], strict=True)]
        table.add(
            f"… speed of {kind} ÷ Pillow's",
            speedups,
            "x",
            "≥ 1.3x",
            statistics.median(speedups) >= 1.3,
            2,
        )
    for kind in ("pyvips jpeg_preview", "Pillow draft progressive", "import only"):
        table.add(f"50 MP PNG → 1024 px: {kind}, peak RSS", peaks[kind], "MB", digits=0)
    base = peaks["import only"]
    whole = [
        v / p
        for v, p in zip(
            peaks["pyvips jpeg_preview"], peaks["Pillow draft progressive"], strict=True
        )
    ]
    above = [
        (v - b) / (p - b)
        for v, p, b in zip(
            peaks["pyvips jpeg_preview"], peaks["Pillow draft progressive"], base, strict=True
        )
    ]
    table.add(
        "… pyvips peak ÷ Pillow's, whole process",
        whole,
        "x",
        "≤ 0.25x",
        statistics.median(whole) <= 0.25,
        2,
    )
    table.add(
        "… pyvips peak ÷ Pillow's, above the import-only child",
        above,
        "x",
        "≤ 0.25x",
        statistics.median(above) <= 0.25,
        2,
    )
    notes.append(
        f"Imaging inputs: a {result['jpeg_mb']:.1f} MB 24 MP JPEG (6000 x 4000, grain, q90) and a "
        f"{result['png_mb']:.1f} MB 50 MP PNG (8660 x 5774, compression 1); the import-only child "
        "reads the file too."
    )


def db_figures(table: Table) -> None:
    log("database operations on PostgreSQL")
    for name, values in db_ops.measure().items():
        table.add(
            f"PostgreSQL `{name}` p50 ({db_ops.EDITS} edits x {db_ops.ROUNDS})",
            values,
            "ms",
            "≤ 1 ms",
            statistics.median(values) <= 1.0,
            3,
        )


def flux_figures(table: Table, notes: list[str]) -> None:
    log(f"the FLUX path: distributed, the fake BFL Ready at its first poll, {FLUX_RUNS} x 30 edits")
    runs = [flux_path.measure(30) for _ in range(FLUX_RUNS)]
    p50s = [statistics.median(run["beyond"]) for run in runs]
    table.add(
        f"FLUX path: submit → completed beyond the fake's own time, p50 of each run "
        f"(1 MP, 30 edits x {FLUX_RUNS})",
        p50s,
        "ms",
        "≤ 40 ms p50",
        statistics.median(p50s) <= 40,
    )
    table.add("FLUX path: … p95 of each run", [percentile(r["beyond"], 0.95) for r in runs], "ms")
    stages = [timings for run in runs for timings in run["stages"]]
    fake = [took for run in runs for took in run["fake"]]
    reencode = [statistics.median(run["reencode"]) for run in runs]
    table.add("FLUX path: … of which the result's decode + re-encode alone, p50", reencode, "ms")
    storage = [statistics.median(run["storage"]) for run in runs]
    table.add("FLUX path: … of which the S3 calls alone (moto on loopback), p50", storage, "ms")
    table.add(
        "FLUX path: … beyond the fake, the re-encode and the S3 calls, p50",
        [p50 - r - s for p50, r, s in zip(p50s, reencode, storage, strict=True)],
        "ms",
    )
    notes.append(
        f"FLUX path: the fake alone {statistics.median(fake):.1f} ms p50; stage medians over all "
        f"{len(stages)} edits (ms): "
        + ", ".join(
            f"{name} {statistics.median(s.get(name, 0.0) for s in stages):.1f}"
            for name in stages[0]
        )
    )


def poll_schedule_figures(table: Table, notes: list[str]) -> None:
    log("the BFL poll schedule: fixed 0.5 s against adaptive, tasks of 2 to 8 s (about 2 minutes)")
    result = flux_poll.measure(96)
    fixed, adaptive = result["fixed"], result["adaptive"]
    table.add("BFL tasks of 2 to 8 s: ready → seen, fixed 0.5 s polls", fixed["late"], "ms")
    table.add("BFL tasks of 2 to 8 s: ready → seen, adaptive polls", adaptive["late"], "ms")
    table.add("BFL tasks of 2 to 8 s: polls per task, fixed", fixed["polls"], "", digits=0)
    table.add("BFL tasks of 2 to 8 s: polls per task, adaptive", adaptive["polls"], "", digits=0)
    late = {name: statistics.fmean(figures["late"]) for name, figures in result.items()}
    polls = {name: statistics.fmean(figures["polls"]) for name, figures in result.items()}
    saving = late["fixed"] - late["adaptive"]
    ratio = polls["adaptive"] / polls["fixed"]
    notes.append(
        f"BFL poll schedule: adaptive polls see a ready result {saving:.0f} ms sooner on average "
        f"(mean {late['fixed']:.0f} → {late['adaptive']:.0f} ms) for {ratio:.1f} times the "
        "polls; 96 edits, 24 at once, after a warm-up round of 24"
    )


def first_start_figures(table: Table) -> None:
    log("a fresh clone's `make serve` until healthy (2 runs, pip's cache warm)")
    times, memory = first_start.measure(runs=2)
    table.add(
        "fresh clone: `make serve` until GET /health answers",
        times,
        "s",
        "≤ 60 s",
        statistics.median(times) <= 60,
    )
    table.add("fresh clone: embedded RSS after 5 edits of 1 MP", memory, "MB", digits=0)


def local_editor() -> str:
    log("the offline editor on 12 MP and 50 MP photos (about a minute)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "local_editor.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout.strip()


def main() -> None:
    started_at = time.monotonic()
    ensure_services()
    table, notes = Table(), []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        s3 = S3Server(folder).start()
        try:
            orchestration(folder, s3, table, notes)
            memory_figures(folder, s3, table, notes)
        finally:
            s3.stop()
        imaging_figures(folder, table, notes)
    db_figures(table)
    flux_figures(table, notes)
    poll_schedule_figures(table, notes)
    first_start_figures(table)
    editor = local_editor()
    minutes = (time.monotonic() - started_at) / 60
    section = "\n".join(
        [
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — `make bench` (`bench/run.py`)",
            "",
            f"Machine: {machine()}. Commit: {commit()}. Wall time {minutes:.1f} min.",
            "Load generator, client and servers share the machine over loopback.",
            "",
            *table.rows,
            "",
            *(f"- {note}" for note in notes),
            "",
            "The offline editor (`bench/local_editor.py`, fresh child per run, 3 runs):",
            "",
            editor,
            "",
        ]
    )
    text = RESULTS.read_text()
    head, marker, rest = text.partition("\n## ")
    RESULTS.write_text(head + "\n" + section + marker + rest)
    print(section)
    log(f"done in {minutes:.1f} min; appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
