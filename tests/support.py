"""Helpers for tests: real server processes, real images, and polling."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyvips

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# Generous limits so tests that are not about rate limiting never meet one.
RELAXED_LIMITS = {
    "RATE_LIMIT_DAILY_IMAGES": "100000",
    "RATE_LIMIT_BURST_SECONDS": "0",
    "RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "100000",
    "RATE_LIMIT_INVALID_EDITS_PER_MINUTE": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MizualServer:
    """`mizual serve` in a child process, on a free port, with its own data folder."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, *, command: str = "serve"
    ) -> None:
        self.command = command
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RATE_LIMIT", "MAX_"))},
            "DATA_DIR": str(data_dir),
            "ENVIRONMENT": "preview",
            "LOG_LEVEL": "INFO",
            # Stopped at once (tests/serving/ try the default drain).
            "SHUTDOWN_DRAIN_SECONDS": "0",
            **RELAXED_LIMITS,
            **(env or {}),
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 30.0) -> MizualServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mizual", self.command, "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[MizualServer]:
    instance = MizualServer(data_dir, env).start()
    try:
        yield instance
    finally:
        instance.stop()


def gradient_image(width: int = 320, height: int = 240) -> pyvips.Image:
    """A colourful image: red rises left to right, green top to bottom, blue constant."""
    xyz = pyvips.Image.xyz(width, height)
    red = xyz[0] * (255 / max(width - 1, 1))
    green = xyz[1] * (255 / max(height - 1, 1))
    blue = pyvips.Image.black(width, height) + 90
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")


def encode(image: pyvips.Image, suffix: str = ".jpg", **options: Any) -> bytes:
    data: bytes = image.write_to_buffer(suffix, **options)
    return data


def jpeg_bytes(width: int = 320, height: int = 240) -> bytes:
    return encode(gradient_image(width, height), ".jpg", Q=90)


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def submit(
    client: httpx.Client,
    prompt: str,
    image: bytes | None = None,
    *,
    parent: str | None = None,
    mime: str = "image/jpeg",
) -> httpx.Response:
    body: dict[str, Any] = {"prompt": prompt}
    if image is not None:
        body["image"] = data_url(image, mime)
    if parent is not None:
        body["parent_edit_uuid"] = parent
    return client.post("/edit-image/", json=body)


def wait_for(client: httpx.Client, edit_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll until the edit completes or fails; returns the last status."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/edit/{edit_id}")
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        if status["is_complete"] or status["is_error"]:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"edit {edit_id} did not finish in {timeout}s: {status}")
        time.sleep(0.05)


def edit_and_wait(
    client: httpx.Client, prompt: str, image: bytes | None = None, **kwargs: Any
) -> dict[str, Any]:
    response = submit(client, prompt, image, **kwargs)
    assert response.status_code == 200, response.text
    return wait_for(client, response.json()["edit_id"])


def fetch_image(client: httpx.Client, url: str) -> tuple[httpx.Response, pyvips.Image]:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response, pyvips.Image.new_from_buffer(response.content, "")


def colourfulness(image: pyvips.Image) -> float:
    """Mean chroma in LCh: 0 for a grey image."""
    if image.bands < 3:
        return 0.0
    return float(image.colourspace("lch")[1].avg())


def assert_error(response: httpx.Response, status_code: int, code: str, *words: str) -> str:
    """The response is the JSON error a person would read, and it says these words."""
    assert response.status_code == status_code, response.text
    body = response.json()
    assert body["error"] == code, body
    for word in words:
        assert word in body["detail"], body
    return str(body["detail"])


class S3Server:
    """moto's S3-API server in a child process on loopback."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"moto-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> S3Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not start in {timeout}s")

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket=name)

    def env(self, bucket: str) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.url,
            "S3_BUCKET_NAME": bucket,
            "S3_ACCESS_KEY_ID": "test",
            "S3_SECRET_ACCESS_KEY": "test",
            "S3_REGION_NAME": "us-east-1",
        }

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class WorkerProcess:
    """`mizual worker` (Celery) in a child process."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_path = log_dir / f"worker-{free_port()}.log"
        self.env = {**os.environ, "LOG_LEVEL": "INFO", **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log_dir = self.log_path.parent
        log_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mizual", "worker"],
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its pool children can be signalled as a group
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as an OOM kill would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for_workers(client: httpx.Client, count: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/health/celery")
        health: dict[str, Any] = response.json()
        if response.status_code != 429 and health["worker_count"] >= count:
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} worker(s) did not answer in {timeout}s: {health}")
        # The endpoint allows 10 checks a minute.
        time.sleep(int(response.headers.get("Retry-After", "0")) or 2.0)


def distributed_env(
    *, database_url: str, schema: str, redis_url: str, s3: dict[str, str]
) -> dict[str, str]:
    """Settings for `mizual api` and `mizual worker` sharing real PostgreSQL, Redis and S3."""
    return {
        "DATABASE_URL": database_url,
        "DATABASE_SCHEMA": schema,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_CONCURRENCY": "1",
        "ENVIRONMENT": "preview",
        "SWEEP_INTERVAL_SECONDS": "0.5",
        "STUCK_EDIT_TIMEOUT_SECONDS": "120",
        # Short, so a job whose worker was killed is delivered again within seconds.
        "CELERY_VISIBILITY_TIMEOUT": "15",
        **s3,
        **RELAXED_LIMITS,
    }


def migrate(env: dict[str, str]) -> None:
    """`mizual migrate`, as operators run it before starting API processes and workers."""
    subprocess.run(
        [sys.executable, "-m", "mizual", "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=60,
    )


class StreamEvent:
    """One server-sent event (`kind` "status" or "done"), a comment (`kind` "comment"), or a
    `retry:` field alone (`kind` "retry", its milliseconds as `id`)."""

    def __init__(self, kind: str, event_id: int | None, data: dict[str, Any] | None) -> None:
        self.kind = kind
        self.id = event_id
        self.data = data
        self.arrived = time.time()

    @property
    def stage(self) -> str | None:
        return None if self.data is None else self.data["processing_stage"]

    def __repr__(self) -> str:
        return f"StreamEvent({self.kind}, {self.id}, {self.stage})"


def read_events(
    client: httpx.Client,
    edit_id: str,
    *,
    last_event_id: int | str | None = None,
    until: Any = None,
    timeout: float = 60.0,
) -> list[StreamEvent]:
    """GET /edit/{id}/events, parsed, until the server ends the stream or `until(event)` is
    true (the connection is then closed, as a client that goes away)."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    events: list[StreamEvent] = []
    deadline = time.monotonic() + timeout
    with client.stream(
        "GET",
        f"/edit/{edit_id}/events",
        headers=headers,
        timeout=httpx.Timeout(30.0, read=timeout),
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"stream of {edit_id} too slow: {events}"
            event: StreamEvent | None = None
            if line.startswith(":"):
                event = StreamEvent("comment", None, None)
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif fields.keys() == {"retry"}:  # the server is stopping: reconnect in time
                event = StreamEvent("retry", int(fields["retry"]), None)
                fields = {}
            elif fields:
                event = StreamEvent(
                    fields.get("event", "message"),
                    int(fields["id"]) if "id" in fields else None,
                    json.loads(fields["data"]),
                )
                fields = {}
            if event is not None:
                events.append(event)
                if until is not None and until(event):
                    break
    return events
