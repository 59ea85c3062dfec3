"""A `.env` written for the reference works: its variable names (FLUX_API_URL, GOOGLE_API_KEY,
LLM_TIMEOUT, LLM_MAX_IMAGE_DIMENSION) change what a running server does; a misspelt name gets
one warning line at start-up; a bad value, one line saying what it must be."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from tests.fakes import bfl as fake_bfl
from tests.fakes import gemini as fake_gemini
from tests.fakes.runner import FakeServer
from tests.support import UNKNOWN_ID, MizualServer, edit_and_wait, free_port, jpeg_bytes

PROMPT = "make it black and white"
FINAL = "Turn the photo black and white; keep everything else as it is."


@pytest.fixture
def bfl() -> Iterator[FakeServer]:
    with FakeServer(fake_bfl.create_app()).start() as server:
        yield server


@pytest.fixture
def gemini() -> Iterator[FakeServer]:
    with FakeServer(fake_gemini.create_app()).start() as server:
        yield server


def requests_to(fake: FakeServer) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(f"{fake.url}/_fake/requests").json()
    return requests


def mizual(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it, with only these variables (no stray ones of ours)."""
    return subprocess.run(
        [sys.executable, "-m", "mizual", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# FLUX_API_URL ---------------------------------------------------------------------------------


def test_flux_api_url_names_the_endpoint_and_the_model(
    make_server: Callable[..., MizualServer], bfl: FakeServer
) -> None:
    server = make_server(
        {
            "BFL_API_KEY": "key-success",
            "FLUX_API_URL": f"{bfl.url}/v1/flux-kontext-max",
            "BFL_POLL_INTERVAL_SECONDS": "0.05",
            "ENABLE_PROMPT_ENHANCEMENT": "false",
        }
    )
    with server.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    submits = [r for r in requests_to(bfl) if r["method"] == "POST"]
    assert [r["path"] for r in submits] == ["/v1/flux-kontext-max"]  # the model from the URL


def test_a_flux_api_url_of_another_shape_stops_start_up(tmp_path: Path) -> None:
    result = mizual(
        "serve",
        env={"DATA_DIR": str(tmp_path), "FLUX_API_URL": "https://api.bfl.ai/v1/flux-dev"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mizual: invalid configuration: FLUX_API_URL must be a BFL endpoint ending in "
        "/v1/flux-kontext-pro or /v1/flux-kontext-max, such as "
        "https://api.bfl.ai/v1/flux-kontext-pro (got 'https://api.bfl.ai/v1/flux-dev')"
    ]


# GOOGLE_API_KEY, LLM_MAX_IMAGE_DIMENSION, LLM_TIMEOUT ------------------------------------------


def test_google_api_key_and_llm_max_image_dimension(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    httpx.post(
        f"{gemini.url}/_fake/answers", json={"answers": ["plan", "checked plan", FINAL]}
    ).raise_for_status()
    server = make_server(
        {
            "GOOGLE_API_KEY": "google-key-5ecre7-Aa1Bb2",
            "GEMINI_API_URL": gemini.url,
            "LLM_MAX_IMAGE_DIMENSION": "256",
            "LOCAL_EDITOR_LLM_PLANS": "false",
        }
    )
    with server.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(2000, 1500))
    assert status["status"] == "completed", status
    assert status["enhanced_prompt"] == FINAL

    calls = [r for r in requests_to(gemini) if r["path"].endswith(":generateContent")]
    assert len(calls) == 3
    assert {call["headers"]["x-goog-api-key"] for call in calls} == {"google-key-5ecre7-Aa1Bb2"}
    (image,) = [
        part["inline_data"]
        for call in calls
        for part in call["json"]["contents"][0]["parts"]
        if "inline_data" in part
    ]
    preview = pyvips.Image.new_from_buffer(base64.b64decode(image["data"]), "")
    assert (preview.width, preview.height) == (256, 192)  # not the default 1024 x 768


def test_google_api_key_is_redacted_from_the_log(tmp_path: Path) -> None:
    """A provider that quotes the key back in an error which is then logged: the line the
    process writes has the key replaced, as for every secret."""
    key = "google-key-5ecre7-Cc3Dd4"
    script = (
        "import logging\n"
        "from mizual.logs import configure_logging\n"
        "from mizual.settings import load_settings\n"
        "configure_logging(load_settings())\n"
        f"logging.getLogger('mizual.test').warning('gemini said: API key %s not valid', {key!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "GOOGLE_API_KEY": key},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "gemini said: API key [redacted] not valid" in result.stderr
    assert key not in result.stderr + result.stdout


def test_llm_timeout_bounds_the_enhancement(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    # The slow fake answers after 5 s: LLM_TIMEOUT_SECONDS' default of 20 would wait for it.
    server = make_server({"LLM_API_KEY": "slow", "GEMINI_API_URL": gemini.url, "LLM_TIMEOUT": "1"})
    with server.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    assert status["enhanced_prompt"] == PROMPT
    assert "gemini did not answer within 1s" in status["prompt_note"]


# Misspelt variables ---------------------------------------------------------------------------

ORDINARY = {
    "PYTHONPATH": "/nowhere",
    "PYTHONUNBUFFERED": "1",
    "CI": "true",
    "LANG": "C.UTF-8",
    "HOSTNAME": "box",
    "MIZUAL_SERVER": "http://127.0.0.1:1",
    "MIZUAL_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1/test",
    "PROMETHEUS_MULTIPROC_DIR": "/nowhere",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "CELERY_RDB_PORT": "6900",
    "GIT_COMMIT_SHA": "abc123",
    "REDIS_PORT": "tcp://10.0.0.7:6379",
    "REDIS_SERVICE_HOST": "10.0.0.7",
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
}


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if "warning" in line.lower()]


def test_a_misspelt_variable_gets_one_warning(tmp_path: Path) -> None:
    """From the environment and from .env; `migrate` reads its settings three times here."""
    (tmp_path / ".env").write_text("RATE_LIMIT_DAYLY_IMAGES=10\n")
    result = mizual(
        "migrate",
        env={**ORDINARY, "DATA_DIR": str(tmp_path), "EDIT_PROVIDR": "local"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert warnings_in(result.stdout + result.stderr) == [
        "mizual: warning: EDIT_PROVIDR is not a Mizual setting; did you mean EDIT_PROVIDER?",
        "mizual: warning: RATE_LIMIT_DAYLY_IMAGES is not a Mizual setting; "
        "did you mean RATE_LIMIT_DAILY_IMAGES?",
    ]


def test_ordinary_variables_get_no_warning(tmp_path: Path) -> None:
    result = mizual("migrate", env={**ORDINARY, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert warnings_in(result.stdout + result.stderr) == []


def test_serve_warns_once(make_server: Callable[..., MizualServer]) -> None:
    server = make_server({"MAX_CHAIN_LENGHT": "9"})
    with server.client() as client:
        assert client.get("/health").status_code == 200
    expected = "mizual: warning: MAX_CHAIN_LENGHT is not a Mizual setting; did you mean "
    assert [line for line in server.log().splitlines() if "MAX_CHAIN_LENGHT" in line] == [
        expected + "MAX_CHAIN_LENGTH?"
    ]


def test_client_commands_read_no_settings(tmp_path: Path) -> None:
    result = mizual(
        "status",
        UNKNOWN_ID,
        "--server",
        f"http://127.0.0.1:{free_port()}",
        env={"EDIT_PROVIDR": "local"},
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert warnings_in(result.stderr) == []


# Bad values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        (
            "MAX_UPLOAD_BYTES",
            "1.5MB",
            "MAX_UPLOAD_BYTES must be a size in bytes, such as 10485760 or 20MiB (got '1.5MB')",
        ),
        ("PORT", "0", "PORT must be a whole number from 1 to 65535 (got '0')"),
        (
            "EDIT_PROVIDER",
            "magic",
            "EDIT_PROVIDER must be one of auto, local, flux, noop (got 'magic')",
        ),
        (
            "LLM_TIMEOUT",
            "soon",
            "LLM_TIMEOUT must be a number of seconds, more than 0 and at most 300 (got 'soon')",
        ),
        (
            "ENABLE_PROMPT_ENHANCEMENT",
            "sometimes",
            "ENABLE_PROMPT_ENHANCEMENT must be true or false (got 'sometimes')",
        ),
    ],
)
def test_a_bad_value_is_one_line_saying_what_it_must_be(
    tmp_path: Path, name: str, value: str, sentence: str
) -> None:
    result = mizual("serve", env={"DATA_DIR": str(tmp_path), name: value}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"mizual: invalid configuration: {sentence}"]
