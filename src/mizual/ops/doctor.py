"""`mizual doctor`: is a deployment ready? One check per service the processes need — the
database, its migrations, the broker, the workers, the storage, the AI providers, and the
version (of this installation, and of a running API) — each a line saying what was found, or
what to do about it.

Every check runs in a thread of its own and is given up after its timeout, so that a host that
drops packets cannot hold the doctor: the checks of different services run side by side, and a
check that needs another (migrations the database, workers the broker) runs after it, or is
skipped when it failed. Nothing here prints; the command (`mizual.cli.doctor_command`) does.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from mizual import __version__
from mizual.kit.db.engine import normalise_url
from mizual.kit.db.startup import MIGRATIONS_DIR
from mizual.kit.queue.celery import build_celery
from mizual.kit.queue.celery_queue import CeleryQueue
from mizual.kit.storage.base import StorageError
from mizual.kit.storage.local import LocalStorage
from mizual.kit.storage.s3http import S3RequestFailed
from mizual.logs import REDACTED, secret_values
from mizual.providers.check import CHECK_TIMEOUT_SECONDS as PROVIDER_CALL_SECONDS
from mizual.providers.check import check_providers
from mizual.runtime import build_storage
from mizual.settings import EditProvider, Settings
from mizual.settings.parsing import is_redis_url

# How long a check may take before it is given up ("no answer within ...").
CHECK_SECONDS = 5.0
# Three round trips to a bucket that may be far away: write, read, delete.
STORAGE_SECONDS = 10.0
# `check_providers` allows each AI service PROVIDER_CALL_SECONDS (15 s) to answer.
PROVIDERS_SECONDS = PROVIDER_CALL_SECONDS + 5.0
# What a connection or a request is allowed inside a check, leaving time to report.
CONNECT_SECONDS = 3.0
# How long the workers have to answer a ping (the API's /health/celery waits 1 s).
WORKER_PING_SECONDS = 2.0
# Display: the check's name, its status, then what was found.
NAME_WIDTH = 12
STATUS_WIDTH = 6
# Shorter values would blank out ordinary words (as in the logs' redaction).
_MIN_SECRET_CHARS = 6


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but a person should know (the exit status is still 0)
    FAIL = "FAIL"  # the deployment is not ready: the line says what to do
    SKIP = "skip"  # not checked, because a check it needs failed


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; `more`: further lines, shown beneath."""

    status: Status
    detail: str
    more: tuple[str, ...] = ()
    timed: bool = True  # show how long it took (not for what involves no I/O)


class CheckFailed(Exception):
    """A check found a problem; the message says what it is and what to do."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    more: tuple[str, ...] = ()
    elapsed_ms: float | None = None

    def lines(self) -> list[str]:
        timing = "" if self.elapsed_ms is None else f" ({self.elapsed_ms:.0f} ms)"
        first = f"{self.name:<{NAME_WIDTH}}{self.status.value:<{STATUS_WIDTH}}{self.detail}"
        indent = " " * (NAME_WIDTH + STATUS_WIDTH)
        return [first + timing, *(indent + line for line in self.more)]


@dataclass(frozen=True)
class Report:
    mode: str  # "embedded" or "distributed"
    environment: str
    results: tuple[CheckResult, ...]

    @property
    def healthy(self) -> bool:
        """No check failed (warnings and skips aside: a skip follows a failure)."""
        return all(result.status is not Status.FAIL for result in self.results)

    def result(self, name: str) -> CheckResult:
        return next(result for result in self.results if result.name == name)

    def lines(self) -> list[str]:
        header = f"mizual doctor: the {self.mode} configuration (ENVIRONMENT={self.environment})"
        body = [line for result in self.results for line in result.lines()]
        failed = [result.name for result in self.results if result.status is Status.FAIL]
        footer = (
            "all checks passed"
            if not failed
            else f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed: {', '.join(failed)}"
        )
        return [header, *body, footer]


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], Outcome]
    timeout: float = CHECK_SECONDS
    stalled: str = ""  # what to look at when it does not answer in time


def is_distributed(settings: Settings) -> bool:
    """DATABASE_URL naming PostgreSQL: what `mizual api` and `mizual worker` use. Otherwise
    (unset, or a SQLite file) what `mizual serve` uses."""
    return settings.database_url is not None and settings.database_backend != "sqlite"


def run_doctor(settings: Settings, *, api_url: str | None = None) -> Report:
    """Every check, with `settings` as the processes read them; `api_url`: a running API
    whose health and version are checked too."""
    distributed = is_distributed(settings)
    database = _Database(settings)
    chains = [
        [
            Check(
                "database",
                database.check,
                stalled="is DATABASE_URL's host reachable from here (a firewall?)",
            ),
            Check("migrations", database.check_migrations),
        ],
        [
            Check(
                "broker",
                (lambda: check_broker(settings)) if distributed else _in_process_broker,
                stalled="is CELERY_BROKER_URL's host reachable from here?",
            ),
            Check(
                "workers",
                (lambda: check_workers(settings))
                if distributed
                else (lambda: _in_process_workers(settings)),
                stalled="the broker took the ping but did not answer in time",
            ),
        ],
        [
            Check(
                "storage",
                lambda: check_storage(settings),
                timeout=STORAGE_SECONDS,
                stalled="is S3_ENDPOINT_URL reachable from here?",
            )
        ],
        [
            Check(
                "providers",
                lambda: check_ai_providers(settings),
                timeout=PROVIDERS_SECONDS,
                stalled="are the AI services' hosts reachable from here?",
            )
        ],
        [
            Check(
                "version",
                lambda: check_version(settings, api_url),
                stalled="the API took the connection but did not answer",
            )
        ],
    ]
    try:
        with ThreadPoolExecutor(max_workers=len(chains), thread_name_prefix="doctor") as pool:
            done = list(pool.map(_run_chain, chains))
    finally:
        database.close()
    redact = _redactor(settings)
    results = tuple(
        CheckResult(
            name=result.name,
            status=result.status,
            detail=redact(result.detail),
            more=tuple(redact(line) for line in result.more),
            elapsed_ms=result.elapsed_ms,
        )
        for chain in done
        for result in chain
    )
    return Report(
        mode="distributed" if distributed else "embedded",
        environment=settings.environment.value,
        results=results,
    )


def _run_chain(chain: list[Check]) -> list[CheckResult]:
    """The checks in order; after a failure (or a skip) the rest are skipped."""
    results: list[CheckResult] = []
    for check in chain:
        if results and results[-1].status in (Status.FAIL, Status.SKIP):
            reason = f"not checked, as `{results[-1].name}` did not pass"
            results.append(CheckResult(check.name, Status.SKIP, reason))
        else:
            results.append(_run_bounded(check))
    return results


def _run_bounded(check: Check) -> CheckResult:
    """The check in a daemon thread of its own, given up after its timeout (the thread is left
    to finish or not; it does not keep the process alive)."""
    box: list[CheckResult] = []
    thread = threading.Thread(
        target=lambda: box.append(_attempt(check)), name=f"doctor-{check.name}", daemon=True
    )
    thread.start()
    thread.join(check.timeout)
    if box:
        return box[0]
    return CheckResult(
        check.name,
        Status.FAIL,
        f"no answer within {check.timeout:g} s: {check.stalled}".rstrip(": "),
        elapsed_ms=check.timeout * 1000,
    )


def _attempt(check: Check) -> CheckResult:
    started = time.monotonic()
    try:
        outcome = check.run()
    except CheckFailed as exc:
        outcome = Outcome(Status.FAIL, str(exc))
    except Exception as exc:
        outcome = Outcome(Status.FAIL, f"unexpected error: {_reason(exc)}")
    elapsed = (time.monotonic() - started) * 1000
    return CheckResult(
        check.name,
        outcome.status,
        outcome.detail,
        outcome.more,
        elapsed if outcome.timed else None,
    )


def _reason(exc: BaseException) -> str:
    """An exception in one line: its type, and the first line of its message."""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def _redactor(settings: Settings) -> Callable[[str], str]:
    """The last line of defence, as in the logs: no secret setting's value, and no password of
    a connection URL, is ever printed, whatever a library put into its error."""
    values = sorted(
        {value for value in secret_values(settings) if len(value) >= _MIN_SECRET_CHARS},
        key=len,
        reverse=True,
    )

    def redact(line: str) -> str:
        for value in values:
            line = line.replace(value, REDACTED)
        return line

    return redact


def where(url: str, *, scheme: bool = False) -> str:
    """A URL's host, port and path (after its scheme, with `scheme`), without its credentials
    or query (which may hold them)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    address = f"{host}:{port}" if port else host
    if scheme and parts.scheme:
        address = f"{parts.scheme}://{address}"
    return f"{address}{parts.path}" if parts.path not in ("", "/") else address


# The database ------------------------------------------------------------------------------


class _Database:
    """One engine for the database and migrations checks: no pool, short timeouts, and for
    SQLite read-only (the doctor never creates a database)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        self.backend = settings.database_backend
        self.schema = settings.database_schema
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def sqlite_path(self) -> Path | None:
        if self.backend != "sqlite":
            return None
        return Path(make_url(self.url).database or "").expanduser().resolve()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._build()
            return self._engine

    def _build(self) -> Engine:
        path = self.sqlite_path
        if path is not None:
            uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
            return create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(
                    uri, uri=True, timeout=CONNECT_SECONDS, check_same_thread=False
                ),
                poolclass=NullPool,
            )
        url = normalise_url(self.url)
        if not url.startswith("postgresql"):
            raise CheckFailed("DATABASE_URL must start with sqlite:// or postgresql://")
        timeout_ms = int(CONNECT_SECONDS * 1000)
        connect_args: dict[str, Any] = {
            "options": f"-c search_path={self.schema} -c statement_timeout={timeout_ms}",
            "connect_timeout": max(2, int(CONNECT_SECONDS)),  # libpq's least is 2 s
            "application_name": "mizual doctor",
        }
        if self.settings.database_pgbouncer:
            connect_args["prepare_threshold"] = None
        return create_engine(url, connect_args=connect_args, poolclass=NullPool)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()

    def describe(self) -> str:
        path = self.sqlite_path
        if path is not None:
            return str(path)
        parsed = make_url(normalise_url(self.url))
        host = parsed.host or "a local socket"
        port = f":{parsed.port}" if parsed.port else ""
        return f"{host}{port}/{parsed.database or ''}, schema {self.schema}"

    def check(self) -> Outcome:
        path = self.sqlite_path
        if path is not None and not path.exists():
            folder = next((p for p in path.parents if p.exists()), Path("/"))
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise CheckFailed(
                    f"no database at {path}, and {folder} is not a folder Mizual can write: "
                    "set DATA_DIR to one"
                )
            return Outcome(
                Status.OK,
                f"sqlite {sqlite3.sqlite_version} at {path} (no database yet: `mizual migrate` "
                "or `mizual serve` creates it)",
                timed=False,
            )
        try:
            with self.engine.connect() as conn:
                if self.backend == "postgresql":
                    version = str(conn.execute(text("SHOW server_version")).scalar()).split()[0]
                else:
                    version = str(conn.execute(text("SELECT sqlite_version()")).scalar())
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(
                f"{self.backend} at {self.describe()} does not answer: {_db_reason(exc)}; "
                "check that it runs and that DATABASE_URL names it"
            ) from exc
        return Outcome(Status.OK, f"{self.backend} {version} at {self.describe()}")

    def check_migrations(self) -> Outcome:
        script = ScriptDirectory(str(MIGRATIONS_DIR))
        heads = set(script.get_heads())
        head = ", ".join(sorted(heads))
        path = self.sqlite_path
        if path is not None and not path.exists():
            current: set[str] = set()
        else:
            with self.engine.connect() as conn:
                options = {"version_table_schema": self.schema} if self.backend != "sqlite" else {}
                current = set(MigrationContext.configure(conn, opts=options).get_current_heads())
        at = ", ".join(sorted(current))
        if not current:
            where_ = f"schema {self.schema}" if self.backend == "postgresql" else str(path)
            raise CheckFailed(
                f"no schema yet ({where_} has no migration applied; this release's is {head}): "
                "run `mizual migrate`"
            )
        if current == heads:
            return Outcome(Status.OK, f"at {at}, this release's latest")
        known = {revision.revision for revision in script.walk_revisions()}
        unknown = current - known
        if unknown:
            return Outcome(
                Status.WARN,
                f"at {', '.join(sorted(unknown))}, newer than this release (its latest is "
                f"{head}): a newer release has migrated, as during a rolling update; run the "
                "newer release's doctor",
            )
        behind = {
            revision.revision
            for rev in current
            for revision in script.iterate_revisions("heads", rev)
        }
        steps = f"{len(behind)} migration{'s' if len(behind) != 1 else ''}"
        raise CheckFailed(f"at {at}, {steps} behind this release's {head}: run `mizual migrate`")


def _db_reason(exc: BaseException) -> str:
    """psycopg's own words (the first line: where it tried, what failed), not SQLAlchemy's."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


# The broker and the workers ------------------------------------------------------------------


def _in_process_broker() -> Outcome:
    return Outcome(Status.OK, "in-process (embedded): no broker to reach", timed=False)


def _in_process_workers(settings: Settings) -> Outcome:
    return Outcome(
        Status.OK,
        f"in-process (embedded): MAX_WORKERS={settings.max_workers} threads of `mizual serve`",
        timed=False,
    )


def check_broker(settings: Settings) -> Outcome:
    """CELERY_BROKER_URL answers; so does REDIS_URL when it is another server."""
    broker = settings.celery_broker_url
    try:
        found = _ping_redis(broker) if is_redis_url(broker) else _ping_kombu(settings)
    except Exception as exc:
        raise CheckFailed(
            f"cannot reach CELERY_BROKER_URL at {where(broker)}: {_reason(exc)}; start the "
            "broker or correct CELERY_BROKER_URL"
        ) from exc
    cache = settings.redis_url
    if cache and cache != broker:
        try:
            found += f"; REDIS_URL {_ping_redis(cache)}"
        except Exception as exc:
            raise CheckFailed(
                f"{found}, but cannot reach REDIS_URL at {where(cache)} (the status cache, "
                f"rate limits and event streams): {_reason(exc)}; start Redis or correct "
                "REDIS_URL"
            ) from exc
    return Outcome(Status.OK, found)


def _ping_redis(url: str) -> str:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=CONNECT_SECONDS, socket_connect_timeout=CONNECT_SECONDS
    )
    try:
        client.ping()
        version = ""
        with contextlib.suppress(redis.RedisError):  # INFO may be refused to this user
            version = f" {client.info('server').get('redis_version', '')}"
    finally:
        client.close()
    return f"redis{version.rstrip()} at {where(url)}"


def _ping_kombu(settings: Settings) -> str:
    """A broker other than Redis (RabbitMQ), through Celery's own connection to it."""
    url = settings.celery_broker_url
    app = build_celery(settings)
    try:
        with app.connection_for_read(connect_timeout=CONNECT_SECONDS) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=CONNECT_SECONDS
            )
            properties = getattr(connection.connection, "server_properties", None) or {}
            product = str(properties.get("product", connection.transport_cls)).lower()
            version = properties.get("version")
    finally:
        app.close()
    return f"{product}{f' {version}' if version else ''} at {where(url)}"


def check_workers(settings: Settings) -> Outcome:
    """Celery workers answering a ping, as /health/celery counts them."""
    queue = CeleryQueue(settings)
    try:
        workers = sorted(queue.workers(timeout=WORKER_PING_SECONDS))
        stats = queue.stats()
    except Exception as exc:
        raise CheckFailed(f"could not ping the workers: {_reason(exc)}") from exc
    finally:
        queue.close()
    if not workers:
        raise CheckFailed(
            f"no worker answered within {WORKER_PING_SECONDS:g} s; start `mizual worker` with "
            f"the same CELERY_BROKER_URL and ENVIRONMENT ({settings.environment.value})"
        )
    names = ", ".join(workers[:3]) + (f" and {len(workers) - 3} more" if len(workers) > 3 else "")
    found = f"{len(workers)} answered: {names}"
    if "waiting" in stats:
        found += f"; {stats['waiting']} edit{'s' if stats['waiting'] != 1 else ''} queued"
    return Outcome(Status.OK, found)


# Storage -----------------------------------------------------------------------------------


def check_storage(settings: Settings) -> Outcome:
    """A small object written, read back and deleted, where the processes keep images."""
    if settings.uses_s3:
        endpoint = (
            where(settings.s3_endpoint_url, scheme=True) if settings.s3_endpoint_url else "AWS S3"
        )
        place = f"s3 bucket {settings.s3_bucket_name} at {endpoint}"
    else:
        place = f"local folder {(settings.data_dir / 'images').resolve()}"
    try:
        storage = build_storage(settings)
    except OSError as exc:
        raise CheckFailed(
            f"cannot create the {place}: {exc.strerror or _reason(exc)}; make DATA_DIR "
            "a folder the user running Mizual can write"
        ) from exc
    key = "/".join(
        part
        for part in (settings.storage_path_prefix, "doctor", f"probe-{uuid.uuid4().hex}.txt")
        if part
    )
    probe = f"mizual doctor probe {time.time()}".encode()
    try:
        try:
            storage.put(key, probe, content_type="text/plain")
        except StorageError as exc:
            raise CheckFailed(_storage_advice(settings, place, "write", exc)) from exc
        try:
            try:
                read = storage.get(key)
            except StorageError as exc:
                raise CheckFailed(_storage_advice(settings, place, "read", exc)) from exc
            if read != probe:
                raise CheckFailed(f"{place}: the probe read back differs from what was written")
        finally:
            try:
                _delete(storage, key)
            except Exception as exc:
                deleted = f"not deleted ({_reason(exc)}; Mizual itself never deletes)"
            else:
                deleted = "deleted"
    finally:
        storage.close()
    if deleted != "deleted":
        return Outcome(Status.WARN, f"{place}: a probe written and read back, {deleted}: {key}")
    return Outcome(Status.OK, f"{place}: a probe written, read back and deleted")


def _delete(storage: Any, key: str) -> None:
    """The store's own delete, and the empty folders a local probe made."""
    if isinstance(storage, LocalStorage):
        path = storage.path_for(key)
        path.unlink(missing_ok=True)
        # The folders the probe's write made, when nothing else is in them.
        for folder in path.parents:
            if folder == storage.root or not folder.is_relative_to(storage.root):
                break
            try:
                folder.rmdir()
            except OSError:
                break
    else:
        storage.delete(key)


_MISSING_BUCKET = {"NoSuchBucket"}
_REFUSED_KEY = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed"}
_DENIED = {"AccessDenied", "AllAccessDisabled", "Forbidden", "403"}


def _storage_advice(settings: Settings, place: str, action: str, exc: StorageError) -> str:
    code, unreachable = _store_answer(exc)
    if code:
        if code in _MISSING_BUCKET:
            return f"{place}: no such bucket; create it, or set S3_BUCKET_NAME to an existing one"
        if code in _REFUSED_KEY:
            return (
                f"{place}: the bucket refused the key ({code}); check S3_ACCESS_KEY_ID and "
                "S3_SECRET_ACCESS_KEY"
            )
        if code in _DENIED:
            return (
                f"{place}: access denied to {action} ({code}); give the key permission to "
                "put and get objects in the bucket"
            )
        return f"{place}: could not {action} a probe ({code})"
    if unreachable:
        return f"{place}: cannot reach the endpoint; check S3_ENDPOINT_URL"
    if settings.uses_s3:
        return f"{place}: could not {action} a probe: {exc}"
    return (
        f"{place}: could not {action} a probe: {exc}; make DATA_DIR a folder the user running "
        "Mizual can write"
    )


def _store_answer(exc: StorageError) -> tuple[str, bool]:
    """The error code the bucket answered with, if any, and whether it could not be reached,
    from either S3 client (the built-in one, or boto3 where no key is configured)."""
    if isinstance(exc, S3RequestFailed):
        return exc.code, exc.status == 0
    cause = exc.__cause__
    if cause is None or not type(cause).__module__.startswith("botocore"):
        return "", False
    from botocore.exceptions import ClientError, EndpointConnectionError

    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code", "")) or "unknown error", False
    return "", isinstance(cause, EndpointConnectionError)


# AI providers ------------------------------------------------------------------------------


def check_ai_providers(settings: Settings) -> Outcome:
    """`mizual providers check`: its lines, one cheap call to each configured AI service."""
    lines, healthy = check_providers(settings)
    lines = [" ".join(line.split()) for line in lines]
    networked = settings.resolved_edit_provider == EditProvider.FLUX or (
        settings.enable_prompt_enhancement and settings.resolved_llm_api_key is not None
    )
    if healthy:
        return Outcome(Status.OK, lines[0], tuple(lines[1:]), timed=networked)
    advice = "check the keys and URLs above (docs/providers.md)"
    return Outcome(Status.FAIL, lines[0], (*lines[1:], advice), timed=networked)


# Versions ----------------------------------------------------------------------------------


def check_version(
    settings: Settings, api_url: str | None, *, local_version: str = __version__
) -> Outcome:
    """This installation's version; with `api_url`, also that API's health, and that it runs
    the same version (a rolling update is done when the new image's doctor says so)."""
    mine = f"mizual {local_version}"
    if settings.git_commit != "unknown":
        mine += f" (commit {settings.git_commit})"
    if api_url is None:
        return Outcome(Status.OK, mine, timed=False)
    api = where(api_url, scheme=True)
    timeout = httpx.Timeout(CONNECT_SECONDS, connect=CONNECT_SECONDS)
    try:
        with httpx.Client(base_url=api_url, timeout=timeout, follow_redirects=True) as client:
            health = client.get("/health")
            answer = client.get("/version")
    except httpx.HTTPError as exc:
        raise CheckFailed(
            f"{mine}; cannot reach the API at {api} ({_reason(exc)}): is it running, and is "
            "--api its address?"
        ) from exc
    if health.status_code != 200:
        raise CheckFailed(
            f"{mine}; the API at {api} is unhealthy: /health answers {health.status_code} "
            f"({_message(health)}); see its log"
        )
    try:
        info = answer.json()
        theirs = str(info["version"])
    except (ValueError, KeyError, TypeError):
        raise CheckFailed(
            f"{mine}; {api}/version answers {answer.status_code} without a Mizual version: is "
            "--api the address of a Mizual API?"
        ) from None
    return compare_versions(
        mine=local_version,
        my_commit=settings.git_commit,
        theirs=theirs,
        their_commit=str(info.get("git_commit", "unknown")),
        api=api,
    )


def compare_versions(
    *, mine: str, my_commit: str, theirs: str, their_commit: str, api: str
) -> Outcome:
    if theirs != mine:
        raise CheckFailed(
            f"mizual {mine} here, but the API at {api} runs {theirs}: the update has not reached "
            "it yet (try again once it has), or run the doctor of the release it runs"
        )
    if "unknown" not in (my_commit, their_commit) and my_commit != their_commit:
        return Outcome(
            Status.WARN,
            f"mizual {mine} here and at {api}, but commit {my_commit} here and {their_commit} "
            "there (GIT_COMMIT)",
        )
    commit = f" (commit {their_commit})" if their_commit != "unknown" else ""
    return Outcome(
        Status.OK, f"mizual {mine}; the API at {api} is healthy and runs {theirs}{commit}"
    )


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", "")) or response.reason_phrase
    except (ValueError, AttributeError):
        return response.reason_phrase
