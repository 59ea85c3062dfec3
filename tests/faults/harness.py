"""The fault suite's tools: private PostgreSQL and Redis servers that a test may stop, crash and
restart, the Mizual processes of one test (`Stack`), pollers that record every answer, and the
checks every test ends with (every accepted edit completed, none stuck, no ghosts, no status
going backwards, no 5xx but a 503 with Retry-After)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from mizual.edits.stages import COMPLETED_STAGE, FAILED_STAGE, PENDING_STAGE, PIPELINE
from tests.support import (
    MizualServer,
    WorkerProcess,
    data_url,
    free_port,
    jpeg_bytes,
    wait_for_workers,
)

# The recovery settings a user gets: the fault tests never shorten them.
DEFAULTED = (
    "CELERY_VISIBILITY_TIMEOUT",
    "STUCK_EDIT_TIMEOUT_SECONDS",
    "SWEEP_INTERVAL_SECONDS",
    "EDIT_LEASE_SECONDS",
    "RECONCILE_INTERVAL_SECONDS",
    "REDISPATCH_AFTER_SECONDS",
)

FINAL = {"completed", "failed"}


def missing(what: str) -> None:
    """A binary or service the suite needs is absent: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}; CI must run the fault tests")
    pytest.skip(what)


def postgres_bin() -> Path:
    """The newest PostgreSQL server binaries installed (Debian's layout)."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        missing("PostgreSQL's initdb and pg_ctl are not installed (/usr/lib/postgresql/*/bin)")
    return found[-1]


def redis_bin() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed (on PATH)")
    assert binary is not None
    return binary


class PrivatePostgres:
    """A PostgreSQL cluster of the suite's own, in a temporary folder, on a free port: a test
    may stop it (`-m fast`, the clean stop; `-m immediate`, a crash) and start it again without
    disturbing any other PostgreSQL. As root its files belong to `postgres` and its commands run
    as that user."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mizual-faults-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                missing("running as root, but there is no `postgres` user to run PostgreSQL as")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self._as_postgres, *args], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")

    def init(self) -> PrivatePostgres:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "400",
            "shared_buffers": "64MB",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self.start()
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE test")
        return self

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w",
            "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: a clean stop (sessions ended, a checkpoint); `immediate`: a crash."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def ensure_running(self) -> None:
        if not self.running():
            with contextlib.suppress(RuntimeError):
                self.start()

    def restart(self, *, down_seconds: float, mode: str = "fast") -> tuple[float, float]:
        """Stop, stay down, start; returns when it went down and when it answered again."""
        self.stop(mode)
        down_at = time.monotonic()
        time.sleep(down_seconds)
        self.start()
        return down_at, time.monotonic()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class PrivateRedis:
    """A redis-server of one test, on a free port, with no persistence or with an AOF
    (`appendfsync everysec`); restarted with the same configuration, so with the AOF it comes
    back with what it held."""

    def __init__(self, root: Path, *, aof: bool) -> None:
        self.binary = redis_bin()
        self.aof = aof
        self.port = free_port()
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"redis-{self.port}.log"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def _args(self) -> list[str]:
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--dir", str(self.root), "--logfile", str(self.log_path), "--daemonize", "no",
            "--appendonly", "yes" if self.aof else "no",
        ]  # fmt: skip
        if self.aof:
            args += ["--appendfsync", "everysec"]
        return args

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=2)

    def keys(self) -> dict[str, int]:
        """How many keys of each kind it holds (the part of the name after the environment)."""
        kinds: dict[str, int] = {}
        with self.client() as reader:
            for key in reader.scan_iter(count=1000):
                kind = ":".join(key.decode(errors="replace").split(":")[:2])
                kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    def start(self, timeout: float = 20) -> PrivateRedis:
        self.process = subprocess.Popen(
            self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        with self.client() as ping:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited:\n{self.log_tail()}")
                try:
                    # With an AOF, answering PING can precede the end of loading it.
                    if ping.ping() and int(ping.info("persistence").get("loading", 0)) == 0:
                        return self
                except redis.exceptions.BusyLoadingError:
                    pass
                except redis.exceptions.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{self.log_tail()}")
                time.sleep(0.05)

    def stop(self, *, graceful: bool = True) -> None:
        """Graceful: SHUTDOWN (NOSAVE without the AOF; with it the AOF is flushed and kept).
        Otherwise SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        if graceful:
            with self.client() as admin, contextlib.suppress(redis.exceptions.ConnectionError):
                admin.shutdown(nosave=not self.aof)
        else:
            self.process.kill()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def restart(self, *, down_seconds: float, graceful: bool = True) -> tuple[float, float]:
        self.stop(graceful=graceful)
        down_at = time.monotonic()
        time.sleep(down_seconds)
        self.start()
        return down_at, time.monotonic()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    """The `mizual api` and `mizual worker` processes of one test, all stopped at its end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.apis: list[MizualServer] = []
        self.workers: list[WorkerProcess] = []

    def api(self, **extra: str) -> MizualServer:
        server = MizualServer(
            self.root / f"api{len(self.apis)}", {**self.env, **extra}, command="api"
        )
        self.apis.append(server)
        return server.start(timeout=60)

    def worker(self, **extra: str) -> WorkerProcess:
        worker = WorkerProcess(self.root / f"worker{len(self.workers)}", {**self.env, **extra})
        self.workers.append(worker)
        return worker.start()

    def wait_for_workers(self, count: int) -> None:
        with httpx.Client(base_url=self.apis[-1].url, timeout=10) as client:
            wait_for_workers(client, count, timeout=90)

    def exited(self, *, expected: Iterable[object] = ()) -> list[str]:
        """The processes that died although the test did not kill them, with their exit codes."""
        spared = {id(process) for process in expected}
        return [
            f"{process.log_path.parent.name} (exit {process.process.returncode})"
            for process in [*self.apis, *self.workers]
            if id(process) not in spared
            and process.process is not None
            and process.process.poll() is not None
        ]

    def close(self) -> None:
        for process in [*self.apis, *self.workers]:
            with contextlib.suppress(Exception):
                process.stop()
            with contextlib.suppress(Exception):
                process.kill()

    def log_lines(self, *needles: str, limit: int = 40) -> str:
        """The lines of every process's log that contain one of the needles (the last ones)."""
        found: list[str] = []
        for process in [*self.apis, *self.workers]:
            path = process.log_path
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                if any(needle in line for needle in needles):
                    found.append(f"{path.parent.name}: {line[:400]}")
        return "\n".join(found[-limit:])


# --- submissions ---------------------------------------------------------------------------


@dataclass
class Submission:
    prompt: str
    code: int  # 0: no answer (the connection failed)
    edit_id: str | None
    headers: dict[str, str]
    body: str
    seconds: float


def submit_one(base_url: str, prompt: str, image: bytes, *, timeout: float = 60) -> Submission:
    started = time.monotonic()
    try:
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            response = client.post(
                "/edit-image/", json={"prompt": prompt, "image": data_url(image)}
            )
    except httpx.HTTPError as exc:
        return Submission(prompt, 0, None, {}, repr(exc), time.monotonic() - started)
    edit_id = response.json().get("edit_id") if response.status_code == 200 else None
    return Submission(
        prompt,
        response.status_code,
        edit_id,
        dict(response.headers),
        response.text[:500],
        time.monotonic() - started,
    )


def submit_all(
    base_urls: list[str], prompts: list[str], *, image: bytes | None = None, threads: int = 10
) -> list[Submission]:
    """Every prompt submitted at once from `threads` threads, spread over the API processes."""
    picture = image if image is not None else jpeg_bytes(64, 48)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [
            pool.submit(submit_one, base_urls[n % len(base_urls)], prompt, picture)
            for n, prompt in enumerate(prompts)
        ]
        return [future.result(timeout=120) for future in futures]


def accepted(submissions: Iterable[Submission]) -> list[str]:
    return [s.edit_id for s in submissions if s.code == 200 and s.edit_id]


# --- polling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    poller: int
    edit_id: str
    began: float
    ended: float
    code: int  # 0: no answer (connection refused, timed out)
    status: str | None = None
    stage: str | None = None
    progress: int | None = None
    retry_after: str | None = None
    error: str | None = None


class Pollers:
    """`count` clients, each polling GET /edit/{id} of every edit in turn until stopped, every
    answer recorded (its status, stage and progress, or its HTTP error)."""

    def __init__(
        self, base_url: str, edit_ids: list[str], *, count: int = 4, pause: float = 0.1
    ) -> None:
        self.base_url = base_url
        self.edit_ids = list(edit_ids)
        self.pause = pause
        self.observations: list[Observation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, args=(n,), daemon=True) for n in range(count)
        ]

    def __enter__(self) -> Pollers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _poll(self, number: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(10, connect=2)) as http:
            while not self._stop.is_set():
                for edit_id in self.edit_ids:
                    if self._stop.is_set():
                        return
                    self._record(self._ask(http, number, edit_id))
                self._stop.wait(self.pause)

    def _ask(self, http: httpx.Client, number: int, edit_id: str) -> Observation:
        began = time.monotonic()
        try:
            response = http.get(f"/edit/{edit_id}")
        except httpx.HTTPError as exc:
            return Observation(number, edit_id, began, time.monotonic(), 0, error=repr(exc))
        ended = time.monotonic()
        if response.status_code != 200:
            return Observation(
                number,
                edit_id,
                began,
                ended,
                response.status_code,
                retry_after=response.headers.get("retry-after"),
                error=response.text[:300],
            )
        view = response.json()
        return Observation(
            number,
            edit_id,
            began,
            ended,
            200,
            status=view["status"],
            stage=view["processing_stage"],
            progress=view["progress_percent"],
        )

    def _record(self, observation: Observation) -> None:
        with self._lock:
            self.observations.append(observation)

    def snapshot(self) -> list[Observation]:
        with self._lock:
            return list(self.observations)


@dataclass
class ErrorCounts:
    answers: int = 0
    ok: int = 0
    unavailable: int = 0  # 503 with Retry-After
    unavailable_without_retry_after: int = 0
    other_5xx: dict[int, int] = field(default_factory=dict)
    other_4xx: dict[int, int] = field(default_factory=dict)
    no_answer: int = 0
    samples: list[str] = field(default_factory=list)  # of the 5xx but 503 with Retry-After
    no_answer_samples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.answers} polls: {self.ok} ok, {self.unavailable} 503 with Retry-After, "
            f"{self.unavailable_without_retry_after} 503 without, other 5xx {self.other_5xx}, "
            f"4xx {self.other_4xx}, {self.no_answer} without an answer"
            + (f" (e.g. {' | '.join(self.samples[:2])})" if self.samples else "")
        )


def count_errors(observations: Iterable[Observation]) -> ErrorCounts:
    counts = ErrorCounts()
    for seen in observations:
        counts.answers += 1
        if seen.code == 200:
            counts.ok += 1
            continue
        if seen.code == 503 and seen.retry_after:
            counts.unavailable += 1
        elif seen.code == 503:
            counts.unavailable_without_retry_after += 1
        elif seen.code >= 500:
            counts.other_5xx[seen.code] = counts.other_5xx.get(seen.code, 0) + 1
        elif seen.code >= 400:
            counts.other_4xx[seen.code] = counts.other_4xx.get(seen.code, 0) + 1
        else:
            counts.no_answer += 1
            if len(counts.no_answer_samples) < 5:
                counts.no_answer_samples.append(str(seen.error))
            continue
        if seen.code >= 500 and len(counts.samples) < 5:
            counts.samples.append(f"{seen.code} {seen.error}")
    return counts


STAGE_RANK: dict[str, int] = {
    PENDING_STAGE: 0,
    **{stage.value: n + 1 for n, stage in enumerate(PIPELINE)},
    COMPLETED_STAGE: len(PIPELINE) + 1,
    FAILED_STAGE: len(PIPELINE) + 1,
}
STATUS_RANK = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}


def rank(seen: Observation) -> tuple[int, int, int]:
    """How far along an answer says the edit is: status, then stage, then progress."""
    return (
        STATUS_RANK.get(seen.status or "", -1),
        STAGE_RANK.get(seen.stage or "", -1),
        seen.progress or 0,
    )


def describe(seen: Observation) -> str:
    return f"{seen.status}/{seen.stage}/{seen.progress}%"


def regressions(observations: Iterable[Observation], t0: float = 0.0) -> list[str]:
    """Answers that show an edit less far along than an answer that had already arrived
    (from any poller) before this poll was sent: a status going backwards. Answers that
    overlap in time are not compared, since either may legitimately be the older."""
    by_edit: dict[str, list[Observation]] = {}
    for seen in observations:
        if seen.code == 200:
            by_edit.setdefault(seen.edit_id, []).append(seen)
    found: list[str] = []
    for edit_id, answers in by_edit.items():
        arrived = sorted(answers, key=lambda s: s.ended)
        asked = sorted(answers, key=lambda s: s.began)
        best: Observation | None = None
        i = 0
        for poll in asked:
            while i < len(arrived) and arrived[i].ended < poll.began:
                if best is None or rank(arrived[i]) > rank(best):
                    best = arrived[i]
                i += 1
            if best is not None and rank(poll) < rank(best):
                found.append(
                    f"{edit_id[:8]}: {describe(poll)} at {poll.began - t0:.2f}s after "
                    f"{describe(best)} at {best.ended - t0:.2f}s"
                )
    return found


# --- the database --------------------------------------------------------------------------


class EditRows:
    """The `edits` table of one test's schema, read directly (not through Mizual)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(
            self.url,
            options=f"-c search_path={self.schema}",
            connect_timeout=3,
            row_factory=psycopg.rows.dict_row,
        ) as conn:
            return conn.execute(sql, params).fetchall()

    def all(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT uuid::text AS uuid, prompt, status, processing_stage, attempts, "
            "error_message, error_stage, dispatched_at, lease_expires_at, created_at "
            "FROM edits ORDER BY id"
        )

    def settle(self, timeout: float, *, pause: float = 0.25) -> tuple[list[dict[str, Any]], float]:
        """Wait until no edit is pending or processing (or the time is up); returns the rows and
        how long it took. Database errors (it may be down) are waited out."""
        started = time.monotonic()
        rows: list[dict[str, Any]] = []
        while True:
            with contextlib.suppress(psycopg.OperationalError):
                rows = self.all()
                if rows and all(row["status"] in FINAL for row in rows):
                    return rows, time.monotonic() - started
            if time.monotonic() - started > timeout:
                return rows, time.monotonic() - started
            time.sleep(pause)


def outcome(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def failures(rows: list[dict[str, Any]]) -> list[str]:
    """Every edit that did not complete, with what the database says about it."""
    return [
        f"{row['uuid'][:8]} {row['status']}/{row['processing_stage']} attempts={row['attempts']}"
        + (f" at {row['error_stage']}: {row['error_message']!r}" if row["error_message"] else "")
        for row in rows
        if row["status"] != "completed"
    ]


class Verdict:
    """Every check of a test, each recorded, so that one failure does not hide the others; the
    summary is printed (pytest shows it with the failure, or with -rP)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.notes: list[str] = []
        self.problems: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"[{self.name}] {text}", flush=True)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)
            print(f"[{self.name}] FAILED: {problem}", flush=True)

    def every_edit_completed(
        self, rows: list[dict[str, Any]], expected: Iterable[str], *, within: float, took: float
    ) -> None:
        """Every accepted edit is in the database and completed; none pending (a ghost) or
        processing (stuck), and none that nobody was told about left unfinished."""
        ids = {row["uuid"] for row in rows}
        lost = sorted(set(expected) - ids)
        self.check(not lost, f"{len(lost)} accepted edits are not in the database: {lost[:3]}")
        counts = outcome(rows)
        self.note(f"edits in the database: {len(rows)} {counts}, settled after {took:.1f}s")
        self.check(counts.get("pending", 0) == 0, f"{counts.get('pending', 0)} ghosts (pending)")
        self.check(
            counts.get("processing", 0) == 0, f"{counts.get('processing', 0)} stuck (processing)"
        )
        self.check(
            counts.get("completed", 0) == len(rows) and took <= within,
            f"{counts.get('completed', 0)} of {len(rows)} completed within {within:.0f}s "
            f"(waited {took:.1f}s): " + "; ".join(failures(rows)[:5]),
        )

    def polls_answered(self, observations: list[Observation]) -> ErrorCounts:
        """No poll answered 5xx but a 503, and every 503 said when to retry."""
        counts = count_errors(observations)
        self.note(counts.summary())
        self.check(
            not counts.other_5xx and counts.unavailable_without_retry_after == 0,
            f"polls answered 5xx other than 503 with Retry-After: {counts.other_5xx}, "
            f"{counts.unavailable_without_retry_after} 503 without Retry-After; e.g. "
            + " | ".join(counts.samples[:3]),
        )
        self.check(
            counts.no_answer == 0,
            f"{counts.no_answer} polls of a running API got no answer; e.g. "
            + " | ".join(counts.no_answer_samples[:3]),
        )
        return counts

    def processes_alive(self, stack: Stack, *, killed: Iterable[object] = ()) -> None:
        dead = stack.exited(expected=killed)
        self.check(not dead, f"processes died that the test did not kill: {dead}")

    def assert_ok(self, *logs: str) -> None:
        if self.problems:
            details = "\n".join(f"  - {p}" for p in self.problems)
            extra = "\n".join(log for log in logs if log)
            raise AssertionError(
                f"{self.name}: {len(self.problems)} problem(s):\n{details}"
                + (f"\nlog lines:\n{extra}" if extra else "")
            )


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, *, pause: float = 0.1
) -> float:
    """Returns the seconds it took; fails the test when the condition is not met in time."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(httpx.HTTPError, psycopg.OperationalError):
            if condition():
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(pause)


def final_statuses(verdict: Verdict, base_url: str, edit_ids: list[str]) -> None:
    """What GET /edit/{id} says once the database has settled: completed, for every edit."""
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            finals = [client.get(f"/edit/{e}") for e in edit_ids]
    except httpx.HTTPError as exc:
        verdict.check(False, f"the API did not answer after the database settled: {exc!r}")
        return
    seen = sorted(
        r.json().get("status", "?") if r.status_code == 200 else str(r.status_code) for r in finals
    )
    verdict.check(set(seen) == {"completed"}, f"the API says {seen} after the database settled")


def stages_now(base_url: str, edit_ids: list[str]) -> dict[str, str]:
    """Each edit's stage as GET /edit/{id} says it ("error <code>" for a refusal)."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        answers = {e: client.get(f"/edit/{e}") for e in edit_ids}
    return {
        e: r.json()["processing_stage"] if r.status_code == 200 else f"error {r.status_code}"
        for e, r in answers.items()
    }


@contextlib.contextmanager
def timed(verdict: Verdict, what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    verdict.note(f"{what}: {time.monotonic() - started:.1f}s")
