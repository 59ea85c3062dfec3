"""What a newcomer meets first: `--help`, `--version`, the `--server` address, a port already
taken, and the server's log."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mizual import __version__
from tests.cli.test_client_commands import mizual, one_line_error
from tests.support import (
    UNKNOWN_ID,
    MizualServer,
    WorkerProcess,
    jpeg_bytes,
    migrate,
    submit,
    wait_for,
)

PLAIN = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}

# The settings each command's help must name, beside its options.
HELP_NAMES = {
    (): ["--version", "serve", "edit"],
    ("serve",): ["[env var: HOST]", "[env var: PORT]", "ADDRESS", "NUMBER"],
    ("api",): ["[env var: HOST]", "[env var: PORT]", "DATABASE_URL", "CELERY_BROKER_URL"],
    ("worker",): ["CELERY_CONCURRENCY", "CELERY_BROKER_URL", "DATABASE_URL"],
    ("migrate",): ["DATABASE_URL", "DATA_DIR"],
    ("doctor",): ["--api", "URL", "DATABASE_URL", "CELERY_BROKER_URL", "DATA_DIR", "/version"],
    ("edit",): ["[env var: MIZUAL_SERVER]", "--parent", "UUID", "--no-wait", "<edit id>.jpg"],
    ("status",): ["[env var: MIZUAL_SERVER]", "--no-wait", "--json"],
    ("cancel",): ["[env var: MIZUAL_SERVER]", "--token", "TOKEN", "MIZUAL_STATE_DIR", "--json"],
    ("chain",): ["[env var: MIZUAL_SERVER]", "--no-wait", "--json"],
    ("providers", "check"): ["BFL_API_KEY", "GEMINI_API_KEY", "LLM_API_KEY"],
}


@pytest.mark.parametrize("command", list(HELP_NAMES), ids=lambda c: " ".join(c) or "mizual")
def test_help_names_its_settings_without_markup_artefacts(command: tuple[str, ...]) -> None:
    result = mizual(*command, "--help", env=PLAIN)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    for name in HELP_NAMES[command]:
        assert name in text, f"{name!r} missing from:\n{text}"
    # No markup left over, and no column of Python types: a metavar that says what to write
    # (FILE, UUID, URL), or none for a flag.
    artefacts = ("[/", "[bold", "[red", "\\[", "TEXT", "INTEGER", "<bool>", "<int>", "<str>")
    for artefact in (*artefacts, "<path>"):
        assert artefact not in text, f"{artefact!r} in:\n{text}"


def test_edit_help_states_the_chain_rule_and_the_wait() -> None:
    text = " ".join(mizual("edit", "--help", env=PLAIN).stdout.replace("│", " ").split())
    assert "it is the parent's result that is edited all the same (PHOTO is not uploaded" in text
    assert "for at most 5 minutes in all; a longer wait (a daily limit) fails at once" in text
    assert "Ctrl-C while the edit is unfinished asks whether to cancel it on the server" in text


def test_version() -> None:
    result = mizual("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mizual {__version__}\n"


def test_server_addresses_a_person_may_write(server: MizualServer) -> None:
    for address in (
        f"127.0.0.1:{server.port}",
        f"localhost:{server.port}",
        f"http://127.0.0.1:{server.port}",
        f"http://127.0.0.1:{server.port}/",
        f"  localhost:{server.port}/ ",
    ):
        reached = mizual("status", UNKNOWN_ID, "--server", address)
        one_line_error(reached, f"no edit {UNKNOWN_ID} exists")
        from_env = mizual("status", UNKNOWN_ID, env={"MIZUAL_SERVER": address})
        one_line_error(from_env, f"no edit {UNKNOWN_ID} exists")
    # https:// is a usable address too: this server speaks plain HTTP, so the TLS talk fails.
    https = mizual("status", UNKNOWN_ID, "--server", f"https://127.0.0.1:{server.port}")
    one_line_error(https, f"https://127.0.0.1:{server.port}")


@pytest.mark.parametrize("address", ["ftp://x", ":::", "", "http://", "127.0.0.1:99999", "a b:1"])
def test_unusable_server_address_says_what_to_write(address: str) -> None:
    expected = (
        "is not an address Mizual can use; write HOST:PORT, http://HOST:PORT or "
        "https://HOST[:PORT], e.g. 127.0.0.1:10000"
    )
    results = [(mizual("status", UNKNOWN_ID, "--server", address), "--server")]
    if address:  # an empty MIZUAL_SERVER is as good as unset
        env = {"MIZUAL_SERVER": address}
        results.append((mizual("chain", UNKNOWN_ID, env=env), "MIZUAL_SERVER"))
    for result, given in results:
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == [f"mizual: {given}: {address!r} {expected}"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "api"])
def test_port_in_use_is_said_before_serving(
    command: str, taken_port: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"DATA_DIR": str(tmp_path), "ENVIRONMENT": "preview"}
    if command == "api":  # distributed mode needs PostgreSQL
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    result = mizual(command, "--port", str(taken_port), env=env)

    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "serving at" not in result.stdout
    assert "Mizual API at" not in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"mizual: port {taken_port} on 127.0.0.1 is already in use (another Mizual running?); "
        "set PORT or pass --port to use another one"
    )


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_serve_listens_on_an_ipv6_host(tmp_path: Path) -> None:
    instance = MizualServer(tmp_path / "v6", {"HOST": "::1"})
    instance.url = f"http://[::1]:{instance.port}"
    instance.start()
    try:
        assert httpx.get(f"{instance.url}/health", timeout=10).status_code == 200
        assert f"Mizual is serving at http://[::1]:{instance.port}" in instance.log()
    finally:
        instance.stop()


# Ours: "2026-12-01 22:14:23,058 INFO    mizual.edits.service: edit …: accepted …"
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: \S"
)


def test_serve_logs_every_line_in_one_format_without_libvips_chatter(tmp_path: Path) -> None:
    instance = MizualServer(tmp_path / "logged").start()
    try:
        with instance.client() as client:
            response = submit(client, "make it black and white", jpeg_bytes())
            assert wait_for(client, response.json()["edit_id"])["status"] == "completed"
            assert client.get("/health").status_code == 200
    finally:
        instance.stop()
    lines = [line for line in instance.log().splitlines() if line.strip()]

    banner = f"Mizual is serving at {instance.url} (API docs at {instance.url}/docs)"
    assert banner in lines
    others = [line for line in lines if line != banner and not LOG_LINE.match(line)]
    assert not others, "\n".join(others)
    assert not [line for line in lines if "VIPS" in line]
    # uvicorn's own lines, its access lines among them, are in our format.
    assert any(" uvicorn.error: Started server process" in line for line in lines)
    assert any(
        " uvicorn.access: 127.0.0.1:" in line and '"POST /edit-image/ HTTP/1.1" 200' in line
        for line in lines
    )


def test_worker_logs_in_the_same_format(
    tmp_path: Path, postgres_url: str, postgres_schema: str, redis_url: str
) -> None:
    env = {
        "DATABASE_URL": postgres_url,
        "DATABASE_SCHEMA": postgres_schema,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "CELERY_CONCURRENCY": "1",
    }
    migrate(env)  # a worker waits for the schema before Celery starts
    worker = WorkerProcess(tmp_path, env).start()
    try:
        deadline = time.monotonic() + 60
        while " ready." not in worker.log() and time.monotonic() < deadline:
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log()
            time.sleep(0.2)
    finally:
        worker.stop()
    lines = worker.log().splitlines()
    # Celery's own lines (not its banner, which is no log line) are in our format, not its own.
    (ready,) = [line for line in lines if line.endswith(" ready.")]
    assert LOG_LINE.match(ready), ready
    assert " celery.apps.worker: mizual@" in ready
    assert not [line for line in lines if re.match(r"^\[\d{4}-\d\d-\d\d", line)]
