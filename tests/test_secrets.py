"""Secrets never leak: a server given a distinctive value for every secret setting is driven
through every route, a failing edit and an unexpected 500, and no secret appears in any response
(status line, headers or body) or in the server's log, at LOG_LEVEL=DEBUG.

The AI services are a local fake that refuses every call and, as some real services and proxies
do, echoes the key it was sent back in its error body and headers: the worst case for a leak.

S3_ACCESS_KEY_ID is the one secret with a sanctioned appearance: a presigned image URL carries it
in `X-Amz-Credential` (that is how S3's signatures work; the secret key is never in a URL). It
may appear there and nowhere else; set S3_PUBLIC_BASE_URL and it appears in no response at all.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.runner import FakeServer
from tests.support import MizualServer, S3Server, data_url, jpeg_bytes, wait_for

SECRETS = {
    "ADMIN_TOKEN": "admin-tok-5ecre7-A1b2C3d4E5f6",
    "BFL_API_KEY": "bfl-key-5ecre7-9f8e7d6c5b4a",
    "GEMINI_API_KEY": "gemini-key-5ecre7-Zz9Yy8Xx7W",
    "LLM_API_KEY": "llm-key-5ecre7-Qq1Rr2Ss3Tt4",
    "S3_ACCESS_KEY_ID": "AKIA5ECRE7ACCESSKEY01",
    "S3_SECRET_ACCESS_KEY": "s3-secret-5ecre7-Kk8Ll9Mm0Nn1",
}
DB_PASSWORD = "pg-pass-5ecre7-Gg4Hh5Jj6"
ADMIN = {"Authorization": f"Bearer {SECRETS['ADMIN_TOKEN']}"}
# The access key id inside a presigned URL's query: `X-Amz-Credential=<id>%2F<date>%2F...`.
_PRESIGNED_CREDENTIAL = re.compile(
    r"X-Amz-Credential=" + re.escape(SECRETS["S3_ACCESS_KEY_ID"]) + r"(%2F|/)"
)


def echoing_provider() -> FastAPI:
    """Refuses every call with 401, quoting the key it was sent (BFL's x-key, Gemini's
    x-goog-api-key, OpenAI's bearer token) in its body and in a header."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def refuse(request: Request, path: str) -> JSONResponse:
        key = (
            request.headers.get("x-key")
            or request.headers.get("x-goog-api-key")
            or request.headers.get("authorization", "")
        )
        return JSONResponse(
            {
                "detail": f"Invalid Authentication: {key!r} is not a valid key for /{path}",
                "error": {"code": 401, "message": f"API key {key} not valid", "status": key},
            },
            status_code=401,
            headers={"WWW-Authenticate": f'Key realm="{key}"'},
        )

    return app


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeServer]:
    with FakeServer(echoing_provider()).start() as server:
        yield server


def secret_env(provider: FakeServer, s3: S3Server, bucket: str) -> dict[str, str]:
    return {
        **SECRETS,
        **{k: v for k, v in s3.env(bucket).items() if "KEY" not in k},
        "LOG_LEVEL": "DEBUG",  # the preview profile's own default: the most a log ever says
        "BFL_API_URL": provider.url,
        "GEMINI_API_URL": provider.url,
        "OPENAI_API_URL": provider.url,
        "BFL_REQUEST_RETRIES": "0",
    }


def database_url_with_password(postgres_url: str) -> tuple[str, str]:
    """The test database's URL with a password in it, and that password. A server that trusts
    local connections ignores the password; one that checks it needs its own in the URL."""
    parts = urllib.parse.urlsplit(postgres_url)
    if parts.password:
        return postgres_url, parts.password
    netloc = f"{parts.username or 'postgres'}:{DB_PASSWORD}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL checks passwords: put one in MIZUAL_TEST_DATABASE_URL")
    return url, DB_PASSWORD


class Transcript:
    """Every response a client received, as text: status line, headers and body."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def record(self, response: httpx.Response) -> httpx.Response:
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.entries.append(
            f"{response.request.method} {response.request.url} -> {response.status_code}\n"
            f"{headers}\n\n{response.text}"
        )
        return response

    def text(self) -> str:
        return "\n\n".join(self.entries)


def assert_no_secret(text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        if name == "S3_ACCESS_KEY_ID":
            text = _PRESIGNED_CREDENTIAL.sub("X-Amz-Credential=<id>/", text)
        found = [line[:300] for line in text.splitlines() if value in line or value.lower() in line]
        assert not found, f"{name} appears in {where}: {found[:3]}"


def drive(server: MizualServer, transcript: Transcript) -> dict[str, Any]:
    """A failing edit, then every GET route of the API (from its OpenAPI schema) with and
    without the admin token, feedback, and refusals of several kinds."""
    with server.client() as client:
        get = lambda path, **kw: transcript.record(client.get(path, **kw))  # noqa: E731
        submitted = transcript.record(
            client.post(
                "/edit-image/",
                json={"prompt": "make it black and white", "image": data_url(jpeg_bytes(64, 48))},
            )
        )
        assert submitted.status_code == 200, submitted.text
        edit_id = submitted.json()["edit_id"]
        status = wait_for(client, edit_id)
        assert status["status"] == "failed", status  # the fake refused the key
        assert transcript.record(httpx.get(status["original_image_url"], timeout=30)).is_success

        schema = get("/openapi.json").json()
        routes = [path for path, methods in schema["paths"].items() if "get" in methods]
        assert {"/version", "/health/celery", "/debug/db-schema", "/chain/{edit_uuid}"} <= set(
            routes
        )
        # A failed edit has no feedback, and cannot be given any.
        unrated = {"/feedback/{edit_uuid}"}
        for route in ["/", "/docs", *routes]:
            path = route.replace("{edit_uuid}", edit_id)
            expected = 404 if route in unrated else 200
            assert get(path, headers=ADMIN).status_code == expected, path
            assert get(path, headers={"Authorization": "Bearer wrong"}).status_code < 500, path

        rated = transcript.record(
            client.post(
                "/feedback/",
                json={"edit_uuid": edit_id, "rating": 0, "feedback_text": "it failed"},
            )
        )
        assert rated.status_code == 400, rated.text
        assert get("/edit/not-an-id").status_code == 422
        assert get("/edit/00000000-0000-4000-8000-000000000000").status_code == 404
        assert get("/no/such/route").status_code == 404
        assert transcript.record(client.delete("/health")).status_code == 405
        bad_json = client.post(
            "/edit-image/", content=b"{", headers={"content-type": "application/json"}
        )
        assert transcript.record(bad_json).status_code == 422
        version: dict[str, Any] = client.get("/version").json()
        return {"status": status, "version": version}


def test_no_secret_in_responses_or_log(
    tmp_path: Path,
    provider: FakeServer,
    s3_server: S3Server,
    s3_bucket: str,
    postgres_url: str,
    postgres_schema: str,
) -> None:
    database_url, password = database_url_with_password(postgres_url)
    secrets = {**SECRETS, "DATABASE_URL password": password}
    env = {
        **secret_env(provider, s3_server, s3_bucket),
        "DATABASE_URL": database_url,
        "DATABASE_SCHEMA": postgres_schema,
    }
    server = MizualServer(tmp_path / "secrets", env).start()
    transcript = Transcript()
    try:
        seen = drive(server, transcript)
        # The secrets were in use: PostgreSQL, S3, FLUX and Gemini were all configured by them.
        assert seen["version"]["database"] == "postgresql"
        assert seen["version"]["storage"] == "s3"
        assert seen["version"]["edit_provider"] == "flux"
        assert "enhancement failed" in seen["status"]["prompt_note"]
    finally:
        server.stop()
    log = server.log()
    # The refusals did reach the server and its log, so the checks below mean something.
    assert "BFL rejected the API key (401)" in log
    assert "prompt enhancement fell back" in log
    assert_no_secret(transcript.text(), secrets, "a response")
    assert_no_secret(log, secrets, "the server log")


def test_no_secret_in_an_unexpected_500_or_its_log(
    tmp_path: Path, provider: FakeServer, s3_server: S3Server
) -> None:
    """The bucket does not exist: storing the upload fails unexpectedly, which is a 500 with a
    request id, and a traceback in the log."""
    env = secret_env(provider, s3_server, "no-such-bucket")
    server = MizualServer(tmp_path / "secrets-500", env).start()
    transcript = Transcript()
    try:
        with server.client() as client:
            failed = transcript.record(
                client.post(
                    "/edit-image/",
                    json={"prompt": "make it brighter", "image": data_url(jpeg_bytes(32, 24))},
                )
            )
            assert failed.status_code == 500, failed.text
            assert failed.json()["error"] == "internal_error"
            request_id = failed.json()["request_id"]
            # The same kept-alive connection still serves the next request.
            assert transcript.record(client.get("/version")).status_code == 200
    finally:
        server.stop()
    log = server.log()
    assert f"request id {request_id}" in log
    assert "Traceback" in log
    assert "Exception in ASGI application" not in log  # logged once, under the request id
    assert_no_secret(transcript.text(), SECRETS, "a response")
    assert_no_secret(log, SECRETS, "the server log")
