"""`mizual doctor` against real services: the embedded configuration in a folder of its own,
and the distributed one with PostgreSQL, Redis, a moto S3-API server and a real `mizual worker`;
the command run as a person runs it, and its checks called directly where a state is easier to
arrange there (a schema behind or ahead, a missing bucket, another version)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from mizual import __version__
from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.startup import MIGRATIONS_DIR
from mizual.ops.doctor import (
    CheckFailed,
    Status,
    check_storage,
    check_version,
    compare_versions,
    run_doctor,
)
from mizual.settings import Settings, load_settings
from tests.cli.test_client_commands import mizual
from tests.support import (
    MizualServer,
    S3Server,
    WorkerProcess,
    distributed_env,
    free_port,
    migrate,
)

HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
CHECKS = ["database", "migrations", "broker", "workers", "storage", "providers", "version"]
DB_PASSWORD = "db-password-4f9a1c"
S3_SECRET = "s3-secret-7be2d0"


def doctor(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`mizual doctor`, in a folder without a .env."""
    return mizual("doctor", *args, env=env, cwd=cwd, timeout=60)


def statuses(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """Each check's status and line, from the output."""
    found = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if words and words[0] in CHECKS:
            found[words[0]] = (words[1], line)
    assert list(found) == CHECKS, result.stdout
    return found


def assert_all_ok(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    found = statuses(result)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert {name: status for name, (status, _) in found.items()} == dict.fromkeys(CHECKS, "ok")
    assert result.stdout.splitlines()[-1] == "all checks passed"
    return found


def with_password(url: str) -> tuple[str, str]:
    """The URL with a password, and the password: its own, or DB_PASSWORD (which PostgreSQL's
    trust authentication ignores)."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    netloc = f"{parts.username or 'postgres'}:{DB_PASSWORD}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc)), DB_PASSWORD


# Embedded ----------------------------------------------------------------------------------


def test_embedded_after_migrate_every_check_passes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"DATA_DIR": str(data)}
    migrate(env)

    result = doctor(env=env, cwd=tmp_path)

    found = assert_all_ok(result)
    assert result.stdout.startswith("mizual doctor: the embedded configuration")
    assert "sqlite 3." in found["database"][1]
    assert str(data / "mizual.db") in found["database"][1]
    assert f"at {HEAD}, this release's latest" in found["migrations"][1]
    assert "in-process (embedded)" in found["broker"][1]
    assert "in-process (embedded)" in found["workers"][1]
    assert f"local folder {data / 'images'}" in found["storage"][1]
    assert f"mizual {__version__}" in found["version"][1]
    # The probe is gone, and the folders made for it.
    assert [p for p in (data / "images").rglob("*") if p.is_file()] == []
    assert not (data / "images" / "preview" / "doctor").exists()


def test_embedded_before_migrate_says_to_migrate_and_creates_no_database(tmp_path: Path) -> None:
    data = tmp_path / "data"

    result = doctor(env={"DATA_DIR": str(data)}, cwd=tmp_path)

    assert result.returncode == 1, (result.stdout, result.stderr)
    found = statuses(result)
    assert found["database"][0] == "ok"
    assert "no database yet" in found["database"][1]
    status, line = found["migrations"]
    assert status == "FAIL"
    assert "run `mizual migrate` (" in line
    assert result.stdout.splitlines()[-1] == "1 check failed: migrations"
    assert not (data / "mizual.db").exists()


def test_provider_keys_and_admin_token_are_never_printed(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    secrets = {
        "BFL_API_KEY": "bfl-key-0c1d2e3f4a5b",
        "GEMINI_API_KEY": "gemini-key-9f8e7d6c5b",
        "ADMIN_TOKEN": "admin-token-1a2b3c4d",
    }
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "BFL_API_URL": closed,
        "GEMINI_API_URL": closed,
        "BFL_REQUEST_RETRIES": "0",
        **secrets,
    }
    migrate(env)

    result = doctor(env=env, cwd=tmp_path)

    assert result.returncode == 1, (result.stdout, result.stderr)
    found = statuses(result)
    assert found["providers"][0] == "FAIL"
    assert "editing flux FAILED" in result.stdout
    assert "prompting gemini FAILED" in result.stdout
    assert "check the keys and URLs" in result.stdout
    for value in secrets.values():
        assert value not in result.stdout
        assert value not in result.stderr


# Distributed -------------------------------------------------------------------------------


@pytest.fixture
def stack_env(
    postgres_url: str, postgres_schema: str, redis_url: str, s3_server: S3Server, s3_bucket: str
) -> dict[str, str]:
    database_url, password = with_password(postgres_url)
    env = distributed_env(
        database_url=database_url,
        schema=postgres_schema,
        redis_url=redis_url,
        s3=s3_server.env(s3_bucket),
    )
    # moto takes any secret; the password is kept aside for the test to look for.
    return {**env, "S3_SECRET_ACCESS_KEY": S3_SECRET, "MIZUAL_TEST_DB_PASSWORD": password}


@pytest.fixture
def worker(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[WorkerProcess]:
    process = WorkerProcess(tmp_path / "worker", stack_env)
    yield process
    process.stop()


def wait_until_ready(worker: WorkerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while " ready." not in worker.log():
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log()
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.2)


def test_distributed_workers_fail_until_one_runs_then_every_check_passes(
    tmp_path: Path, stack_env: dict[str, str], worker: WorkerProcess
) -> None:
    migrate(stack_env)

    without = doctor(env=stack_env, cwd=tmp_path)

    assert without.returncode == 1, (without.stdout, without.stderr)
    found = statuses(without)
    assert found["broker"][0] == "ok"
    status, line = found["workers"]
    assert status == "FAIL"
    assert "no worker answered" in line
    assert "start `mizual worker`" in line
    assert without.stdout.splitlines()[-1] == "1 check failed: workers"

    worker.start()
    wait_until_ready(worker)
    result = doctor(env=stack_env, cwd=tmp_path)

    found = assert_all_ok(result)
    assert result.stdout.startswith("mizual doctor: the distributed configuration")
    schema = stack_env["DATABASE_SCHEMA"]
    assert found["database"][1].startswith("database    ok    postgresql 1")
    assert f"at 127.0.0.1:5432/test, schema {schema} (" in found["database"][1]
    assert f"at {HEAD}, this release's latest" in found["migrations"][1]
    assert "redis " in found["broker"][1]
    assert stack_env["CELERY_BROKER_URL"].split("://")[1] in found["broker"][1]
    assert "1 answered: mizual@" in found["workers"][1]
    bucket = stack_env["S3_BUCKET_NAME"]
    assert f"s3 bucket {bucket} at {stack_env['S3_ENDPOINT_URL']}" in found["storage"][1]
    for output in (without, result):
        for secret in (stack_env["MIZUAL_TEST_DB_PASSWORD"], S3_SECRET):
            assert secret not in output.stdout
            assert secret not in output.stderr


def test_closed_database_port_fails_quickly(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{port}/test",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATA_DIR": str(tmp_path / "data"),
    }
    started = time.monotonic()

    result = doctor(env=env, cwd=tmp_path)

    assert time.monotonic() - started < 20
    assert result.returncode == 1, (result.stdout, result.stderr)
    found = statuses(result)
    status, line = found["database"]
    assert status == "FAIL"
    assert f"postgresql at 127.0.0.1:{port}/test, schema public does not answer" in line
    assert "check that it runs and that DATABASE_URL names it" in line
    assert found["migrations"][0] == "skip"
    assert found["broker"][0] == "FAIL"
    assert "start the broker or correct CELERY_BROKER_URL" in found["broker"][1]
    assert found["workers"][0] == "skip"
    assert DB_PASSWORD not in result.stdout + result.stderr


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never says a word (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_a_database_and_broker_that_never_answer_are_given_up(
    tmp_path: Path, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        distributed=True,
        database_url=f"postgresql://postgres@127.0.0.1:{silent_port}/test",
        celery_broker_url=f"redis://127.0.0.1:{silent_port}/0",
        data_dir=tmp_path / "data",
    )
    started = time.monotonic()

    report = run_doctor(settings)

    assert time.monotonic() - started < 8  # each check gives up within 5 s, side by side
    assert not report.healthy
    assert report.result("database").status is Status.FAIL
    assert "timeout" in report.result("database").detail
    assert report.result("broker").status is Status.FAIL
    assert report.result("migrations").status is Status.SKIP
    assert report.result("storage").status is Status.OK


# Single checks -----------------------------------------------------------------------------


def embedded_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **values: object
) -> Settings:
    monkeypatch.chdir(tmp_path)
    return load_settings(data_dir=tmp_path / "data", environment="preview", **values)


def test_a_schema_behind_fails_and_one_ahead_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_settings(tmp_path, monkeypatch)
    engine = build_engine(settings)
    try:
        upgrade(engine, "0005")
        behind = run_doctor(settings).result("migrations")
        assert behind.status is Status.FAIL
        assert behind.detail == (
            f"at 0005, 1 migration behind this release's {HEAD}: run `mizual migrate`"
        )

        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        report = run_doctor(settings)
    finally:
        engine.dispose()
    ahead = report.result("migrations")
    assert ahead.status is Status.WARN
    assert ahead.detail.startswith(f"at 9999, newer than this release (its latest is {HEAD})")
    assert report.healthy  # a warning is not a failure: exit status 0


@pytest.mark.parametrize("client", ["built-in", "boto3"])
def test_a_missing_bucket_fails_the_storage_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, client: str
) -> None:
    s3 = {key.lower(): value for key, value in s3_server.env("no-such-bucket-here").items()}
    if client == "boto3":  # no key of Mizual's own: boto3 finds one in AWS_* variables
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.pop("s3_access_key_id"))
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.pop("s3_secret_access_key"))
    settings = embedded_settings(tmp_path, monkeypatch, **s3)

    with pytest.raises(CheckFailed) as failed:
        check_storage(settings)

    assert str(failed.value) == (
        f"s3 bucket no-such-bucket-here at {s3_server.url}: no such bucket; create it, or set "
        "S3_BUCKET_NAME to an existing one"
    )


@pytest.mark.parametrize("client", ["built-in", "boto3"])
def test_an_unreachable_endpoint_fails_the_storage_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    s3: dict[str, str] = {"s3_endpoint_url": "http://127.0.0.1:9", "s3_bucket_name": "b"}
    if client == "boto3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    else:
        s3.update(s3_access_key_id="key", s3_secret_access_key="secret")
    settings = embedded_settings(tmp_path, monkeypatch, **s3)

    with pytest.raises(CheckFailed) as failed:
        check_storage(settings)

    assert str(failed.value) == (
        "s3 bucket b at http://127.0.0.1:9: cannot reach the endpoint; check S3_ENDPOINT_URL"
    )


def test_an_images_folder_that_cannot_be_made_fails_the_storage_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_settings(tmp_path, monkeypatch)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "images").write_text("a file where the folder should be")

    with pytest.raises(CheckFailed) as failed:
        check_storage(settings)

    assert f"cannot create the local folder {tmp_path / 'data' / 'images'}" in str(failed.value)
    assert "make DATA_DIR a folder the user running Mizual can write" in str(failed.value)


# --api ---------------------------------------------------------------------------------------


def test_api_of_the_same_version_passes(tmp_path: Path, server: MizualServer) -> None:
    env = {"DATA_DIR": str(server.data_dir), "ENVIRONMENT": "preview"}

    result = doctor("--api", f"127.0.0.1:{server.port}", env=env, cwd=tmp_path)

    found = assert_all_ok(result)
    assert found["version"][1].startswith(
        f"version     ok    mizual {__version__}; the API at {server.url} is healthy and runs "
        f"{__version__}"
    )


def test_api_of_another_version_fails(tmp_path: Path, server: MizualServer) -> None:
    settings = load_settings(data_dir=tmp_path)

    with pytest.raises(CheckFailed) as failed:
        check_version(settings, server.url, local_version="9.9.9")

    assert str(failed.value) == (
        f"mizual 9.9.9 here, but the API at {server.url} runs {__version__}: the update has not "
        "reached it yet (try again once it has), or run the doctor of the release it runs"
    )


def test_api_that_does_not_answer_fails(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    port = free_port()

    with pytest.raises(CheckFailed) as failed:
        check_version(settings, f"http://127.0.0.1:{port}")

    assert f"cannot reach the API at http://127.0.0.1:{port} (ConnectError" in str(failed.value)
    assert str(failed.value).endswith("is it running, and is --api its address?")


def test_same_version_of_another_commit_warns() -> None:
    outcome = compare_versions(
        mine="1.2.0", my_commit="abc123", theirs="1.2.0", their_commit="def456", api="http://x"
    )
    assert outcome.status is Status.WARN
    assert "commit abc123 here and def456 there" in outcome.detail
