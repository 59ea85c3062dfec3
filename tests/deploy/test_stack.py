"""The compose stack for real (`make stack-test`): compose.yaml up with podman-compose (or
Docker), a real photo edited through the proxy by the offline editor, then `deploy/update.sh`
rolls the API replicas and the worker to a new image — switched to FLUX (the fake BFL server)
— while a client submits and polls without pause: no request fails, no edit is lost or fails.
Then everything is torn down and nothing of the stack is left behind.

Needs podman (or a Docker engine) and the images `make image` builds; on a machine without
them it skips, in CI (CI=true) it fails."""

from __future__ import annotations

import io
import json
import os
import secrets
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image

from tests.fakes import bfl
from tests.support import data_url, free_port

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
IMAGE_A = "localhost/mizual:stack-a"
IMAGE_B = "localhost/mizual:stack-b"
SERVICE_IMAGES = {
    "localhost/mizual-proxy:latest": "deploy/caddy",
    "localhost/mizual-postgres:15": "deploy/postgres",
    "localhost/mizual-redis:7": "deploy/redis",
}
UP_TIMEOUT = 240.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the compose stack test")
    pytest.skip(reason)


def _compose_command() -> list[str]:
    local = ROOT / ".venv" / "bin" / "podman-compose"
    if local.exists():
        return [str(local)]
    found = shutil.which("podman-compose")
    if found:
        return [found]
    _unavailable("podman-compose is not installed (make install installs it)")
    raise AssertionError  # unreachable


def _run(*args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, check=False, capture_output=True, text=True, **kwargs)
    if check and done.returncode:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def _build(tag: str, context: str, *build_args: str) -> None:
    _run(
        "podman", "build", "-q", "--format", "docker", "--pull=never", "-t", tag,
        *build_args, str(ROOT / context),
    )  # fmt: skip


@pytest.fixture(scope="module")
def images() -> None:
    if shutil.which("podman") is None:
        _unavailable("podman is not installed (make image installs it)")
    # The Debian base (pulled, or made where no registry answers) and podman's settings.
    prepared = _run(str(ROOT / "deploy" / "podman" / "prepare.sh"), check=False, timeout=600)
    if prepared.returncode:
        _unavailable(f"deploy/podman/prepare.sh failed: {prepared.stderr.strip()}")
    # Two images of the same code told apart by their commit: the update is from A to B.
    for tag, commit in ((IMAGE_A, "stack-a"), (IMAGE_B, "stack-b")):
        # (As `make image` does: podman 4.3 reuses cached ENV/LABEL layers whatever the ARG.)
        _build(
            tag, ".", "--build-arg", f"GIT_COMMIT={commit}", "--env", f"GIT_COMMIT={commit}",
            "--label", f"org.opencontainers.image.revision={commit}",
        )  # fmt: skip
    for tag, context in SERVICE_IMAGES.items():
        _build(tag, context)


@dataclass
class Stack:
    directory: Path
    project: str
    url: str
    env: dict[str, str]
    compose: list[str]
    settings: dict[str, str] = field(default_factory=dict)

    def write_env(self, **changes: str) -> None:
        self.settings.update(changes)
        text = "".join(f"{name}={value}\n" for name, value in self.settings.items())
        (self.directory / ".env").write_text(text)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return _run(*self.compose, *args, cwd=self.directory, env=self.env, timeout=timeout)

    def containers(self) -> list[dict[str, Any]]:
        out = _run(
            "podman", "ps", "-a", "--format", "json",
            "--filter", f"label=com.docker.compose.project={self.project}",
        ).stdout  # fmt: skip
        return json.loads(out or "[]")


def _leftovers(project: str) -> list[str]:
    left = []
    for kind in ("container", "volume", "network", "pod"):
        command = ["podman", kind, "ls", "--format", "{{.Name}}"] if kind != "container" else [
            "podman", "ps", "-a", "--format", "{{.Names}}"
        ]  # fmt: skip
        if kind == "pod":
            command = ["podman", "pod", "ls", "--format", "{{.Name}}"]
        names = _run(*command).stdout.split()
        left += [f"{kind} {name}" for name in names if project in name]
    return left


@pytest.fixture
def stack(images: None, tmp_path: Path) -> Iterator[Stack]:
    directory = tmp_path / "project"
    directory.mkdir()
    shutil.copy(ROOT / "compose.yaml", directory)
    shutil.copytree(ROOT / "deploy", directory / "deploy")
    project = f"mizual-stacktest-{secrets.token_hex(3)}"
    port = free_port()
    env = {**os.environ, "COMPOSE_PROJECT_NAME": project}
    env.pop("CI", None)  # the stack's own settings come from its .env only
    instance = Stack(directory, project, f"http://127.0.0.1:{port}", env, _compose_command())
    instance.write_env(
        MIZUAL_IMAGE=IMAGE_A,
        COMPOSE_PROJECT_NAME=project,
        HTTP_PORT=str(port),
        POSTGRES_PASSWORD=secrets.token_hex(12),
        PUBLIC_BASE_URL=instance.url,
        ENVIRONMENT="production",
        EDIT_PROVIDER="local",
        CELERY_CONCURRENCY="2",
        # A client that submits and polls without pause: the limits would refuse it.
        RATE_LIMIT_DAILY_IMAGES="100000",
        RATE_LIMIT_BURST_SECONDS="0",
        RATE_LIMIT_STATUS_CHECKS_PER_MINUTE="100000",
        RATE_LIMIT_INVALID_EDITS_PER_MINUTE="100000",
    )
    try:
        instance.run("up", "-d")
        yield instance
    finally:
        instance.run("down", "-v", "--timeout", "20")
        for name in _leftovers(project):  # what a half-made stack may leave
            kind, _, what = name.partition(" ")
            _run("podman", kind, "rm", "-f", what, check=False)
    assert not _leftovers(project)
    _remove_netavark_chains()


def _remove_netavark_chains() -> None:
    """netavark leaves its iptables chains behind when its last network goes: removed once no
    container runs and no network but podman's own is left (../shared/notes/containers.md)."""
    if shutil.which("iptables") is None or _run("podman", "ps", "-q").stdout.strip():
        return  # another container's rules are not ours to remove
    if _run("podman", "network", "ls", "--format", "{{.Name}}").stdout.split() != ["podman"]:
        return
    for table in ("nat", "filter"):
        rules = _run("iptables", "-t", table, "-S", check=False).stdout.splitlines()
        # First the jumps into netavark's chains from the built-in ones, then the chains.
        for rule in rules:
            words = shlex.split(rule)
            if words[:1] == ["-A"] and "NETAVARK" not in words[1] and "NETAVARK" in rule:
                _run("iptables", "-t", table, "-D", *words[1:], check=False)
        for rule in rules:
            if rule.startswith("-N NETAVARK"):
                chain = rule.split()[1]
                _run("iptables", "-t", table, "-F", chain, check=False)
                _run("iptables", "-t", table, "-X", chain, check=False)
    left = [
        rule
        for table in ("nat", "filter")
        for rule in _run("iptables", "-t", table, "-S", check=False).stdout.splitlines()
        if "NETAVARK" in rule
    ]
    assert not left, left


def _wait_healthy(client: httpx.Client, timeout: float = UP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the stack did not answer /health through the proxy")


def _photo() -> tuple[bytes, np.ndarray]:
    from skimage import data  # a real photograph (NASA's astronaut portrait)

    pixels = data.astronaut()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue(), pixels.astype(float)


def _edit(client: httpx.Client, prompt: str, image: bytes, timeout: float = 120) -> dict[str, Any]:
    response = client.post("/edit-image/", json={"prompt": prompt, "image": data_url(image)})
    assert response.status_code == 200, response.text
    edit_id = response.json()["edit_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/edit/{edit_id}").json()
        if status["is_complete"]:
            return status
        time.sleep(0.25)
    raise AssertionError(f"edit {edit_id} did not complete: {status}")


def _result_pixels(client: httpx.Client, status: dict[str, Any]) -> np.ndarray:
    assert not status["is_error"], status
    response = client.get(status["edited_image_url"])  # served through the proxy
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(float)


class FakeBfl:
    """The fake BFL API on every address of this host, so that containers reach it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(bfl.create_app(), host="0.0.0.0", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeBfl:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    def submissions(self) -> int:
        return int(httpx.get(f"http://127.0.0.1:{self.port}/_fake/submissions").json()["total"])


class Client:
    """Submits an edit and polls every open one, without pause, recording each answer."""

    def __init__(self, url: str, image: bytes) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.image = data_url(image)
        self.failures: list[str] = []
        self.requests = 0
        self.edits: list[str] = []
        self.open: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        self.requests += 1
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.failures.append(f"{method} {path}: {exc!r}")
            return None
        if response.status_code != 200:
            self.failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return None
        return response

    def _run(self) -> None:
        while not self.stop.is_set():
            body = {"prompt": "make it a bit brighter", "image": self.image}
            response = self._request("POST", "/edit-image/", json=body)
            if response is not None:
                self.edits.append(response.json()["edit_id"])
                self.open.add(response.json()["edit_id"])
            for edit_id in list(self.open):
                polled = self._request("GET", f"/edit/{edit_id}")
                if polled is not None and polled.json()["is_complete"]:
                    self.open.discard(edit_id)
            time.sleep(0.2)


def _stats(stack: Stack) -> dict[str, str]:
    out = _run("podman", "stats", "--no-stream", "--format", "json").stdout
    rows = json.loads(out or "[]")
    return {row["name"]: row.get("mem_usage", "") for row in rows if stack.project in row["name"]}


def test_the_stack_edits_and_updates_with_zero_downtime(stack: Stack) -> None:
    client = httpx.Client(base_url=stack.url, timeout=30)
    _wait_healthy(client)
    photo, original = _photo()

    # The offline editor, through the proxy, on a real photograph: the pixels changed as asked.
    brighter = _result_pixels(client, _edit(client, "make it brighter", photo))
    assert brighter.shape == original.shape
    assert brighter.mean() > original.mean() + 5
    version = client.get("/version").json()
    assert version["git_commit"] == "stack-a"
    assert version["edit_provider"] == "local"
    print("memory before the update:", _stats(stack))

    with FakeBfl() as fake:
        # The new image, and FLUX from now on (the fake BFL server on this host).
        stack.write_env(
            MIZUAL_IMAGE=IMAGE_B,
            EDIT_PROVIDER="flux",
            BFL_API_KEY="stack-test-key",
            BFL_API_URL=f"http://host.containers.internal:{fake.port}",
        )
        load = Client(stack.url, _small_photo())
        load.thread.start()
        time.sleep(2)  # edits in flight when the update begins
        update = _run(
            str(stack.directory / "deploy" / "update.sh"),
            cwd=stack.directory,
            env={**stack.env, "COMPOSE": " ".join(stack.compose)},
            check=False,
            timeout=900,
        )
        time.sleep(2)
        load.stop.set()
        load.thread.join(60)
        assert update.returncode == 0, update.stdout + update.stderr
        print(update.stdout)

        assert load.failures == [], load.failures[:10]
        assert len(load.edits) >= 10, load.edits
        # Every edit submitted before, during and after the update completes.
        for edit_id in load.edits:
            status = _wait_complete(client, edit_id)
            assert status["status"] == "completed", status
            assert not status["is_error"], status

        # Every replica answers the new version, and edits now go to FLUX.
        for _ in range(4):
            after = client.get("/version").json()
            assert after["git_commit"] == "stack-b"
            assert after["edit_provider"] == "flux"
        submitted = fake.submissions()
        flux = _result_pixels(client, _edit(client, "make it black and white", photo))
        assert fake.submissions() == submitted + 1
        # The fake's edit turns the photo black and white: every channel equal.
        assert np.abs(flux[..., 0] - flux[..., 1]).mean() < 2
        assert np.abs(original[..., 0] - original[..., 1]).mean() > 10
        print("memory after the update:", _stats(stack))
        print(f"client: {load.requests} requests, {len(load.edits)} edits, 0 failures")


def _wait_complete(client: httpx.Client, edit_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = client.get(f"/edit/{edit_id}").json()
        if status["is_complete"] or time.monotonic() > deadline:
            return status
        time.sleep(0.25)


def _small_photo() -> bytes:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((256, 256)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_the_image_runs_embedded_as_a_user_and_stops_cleanly(images: None) -> None:
    inspected = json.loads(_run("podman", "image", "inspect", IMAGE_A).stdout)[0]
    assert inspected["Config"]["User"] == "mizual"
    # Kept only by --format docker (podman reports it beside Config).
    assert "healthcheck.py" in " ".join(inspected["Healthcheck"]["Test"])
    port = free_port()
    name = f"mizual-imagetest-{secrets.token_hex(3)}"
    url = f"http://127.0.0.1:{port}"
    _run(
        "podman", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:10000",
        "-e", f"PUBLIC_BASE_URL={url}", IMAGE_A,
    )  # fmt: skip
    try:
        client = httpx.Client(base_url=url, timeout=30)
        _wait_healthy(client, timeout=120)
        assert _run("podman", "healthcheck", "run", name, check=False).returncode == 0
        photo, original = _photo()
        brighter = _result_pixels(client, _edit(client, "make it brighter", photo))
        assert brighter.mean() > original.mean() + 5
        # SIGTERM reaches Mizual through tini: a drain, then exit 0 (not podman's SIGKILL, 137).
        _run("podman", "stop", "-t", "30", name)
        state = json.loads(_run("podman", "inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 0, _run("podman", "logs", name).stdout[-2000:]
        logs = _run("podman", "logs", name)
        assert "draining" in logs.stdout + logs.stderr
    finally:
        _run("podman", "rm", "-f", "-v", name, check=False)
    _remove_netavark_chains()
