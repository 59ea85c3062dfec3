"""`GET /metrics` over real HTTP: embedded, and distributed with the workers' figures reaching the
API through the shared multiprocess folder (and a worker's own METRICS_PORT)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mizual.edits.stages import PIPELINE
from mizual.providers.editing.base import ERROR_CLASSES, EditingError, EditRequest
from mizual.providers.editing.flux import FluxConfig, FluxEditingProvider
from mizual.settings import ConfigurationError, load_settings
from tests.fakes.bfl import create_app
from tests.fakes.runner import FakeServer
from tests.support import (
    UNKNOWN_ID,
    MizualServer,
    S3Server,
    WorkerProcess,
    distributed_env,
    edit_and_wait,
    free_port,
    jpeg_bytes,
    migrate,
    submit,
    wait_for,
    wait_for_workers,
)

TOKEN = "metrics-admin-token"
STAGES = [stage.value for stage in PIPELINE]


class Scrape:
    """One scrape, parsed by prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def stage_count(self, stage: str) -> float | None:
        return self.value("mizual_edit_stage_duration_seconds_count", stage=stage)


def scrape(url: str, token: str = TOKEN) -> Scrape:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.text)


def test_metrics_after_a_completed_edit_a_failed_one_and_a_429(
    make_server: Callable[..., MizualServer],
) -> None:
    server = make_server({"ADMIN_TOKEN": TOKEN})
    with server.client() as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401

        done = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
        assert done["status"] == "completed", done
        refused = edit_and_wait(client, "add a hat", jpeg_bytes(64, 48))
        assert refused["status"] == "failed", refused
        for _ in range(10):  # GET /chain/{uuid}: 10 a minute
            assert client.get(f"/chain/{UNKNOWN_ID}").status_code == 404
        assert client.get(f"/chain/{UNKNOWN_ID}").status_code == 429

    metrics = scrape(server.url)
    assert metrics.types["mizual_edit_stage_duration_seconds"] == "histogram"
    # Both edits passed the stages up to the editor; only the completed one went further.
    expected = {
        "initialization": 2,
        "enhancing_prompt": 2,
        "fetching_image": 2,
        "ai_processing": 1,  # the refusal is not a duration of a stage that worked
        "uploading_result": 1,
        "completion": 1,
    }
    assert {stage: metrics.stage_count(stage) for stage in STAGES} == expected
    for stage, count in expected.items():
        inf = metrics.value("mizual_edit_stage_duration_seconds_bucket", stage=stage, le="+Inf")
        assert inf == count
        total = metrics.value("mizual_edit_stage_duration_seconds_sum", stage=stage)
        assert total is not None
        assert 0 < total < 30
    assert metrics.value("mizual_edits_finished_total", status="completed") == 1
    assert metrics.value("mizual_edits_finished_total", status="failed") == 1
    errors = metrics.value(
        "mizual_provider_errors_total", provider="local", error_class="invalid_prompt"
    )
    assert errors == 1
    assert metrics.value("mizual_rate_limit_rejections_total", rule="chain") == 1
    assert metrics.value("mizual_rate_limit_rejections_total", rule="status") is None

    hits = metrics.value("mizual_cache_hits_total", backend="memory")
    misses = metrics.value("mizual_cache_misses_total", backend="memory")
    assert hits is not None
    assert misses is not None
    assert hits > 0  # the polls were answered from the status cache
    ratio = metrics.value("mizual_cache_hit_ratio", backend="memory")
    assert ratio == pytest.approx(hits / (hits + misses))
    assert metrics.types["mizual_queue_depth"] == "gauge"
    assert metrics.value("mizual_queue_depth") == 0
    assert metrics.value("mizual_queue_in_flight") == 0
    assert metrics.value("process_resident_memory_bytes")  # this process's own figures


def test_metrics_are_absent_without_an_admin_token(
    make_server: Callable[..., MizualServer],
) -> None:
    server = make_server()
    response = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_worker_metrics_port_needs_the_admin_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="METRICS_PORT needs ADMIN_TOKEN"):
        load_settings(metrics_port=9100, admin_token=None, _env_file=None)
    settings = load_settings(metrics_port="", metrics_multiproc_dir=" ", _env_file=None)
    assert settings.metrics_port is None
    assert settings.metrics_multiproc_dir is None


# Provider errors by class: the FLUX client against the fake BFL server ------------------------


@pytest.fixture(scope="module")
def bfl() -> Iterator[FakeServer]:
    with FakeServer(create_app()).start() as server:
        yield server


def flux_error(url: str, key: str, **config: object) -> EditingError:
    options: dict[str, object] = {"poll_interval_seconds": 0.02, "request_retries": 0, **config}
    provider = FluxEditingProvider(FluxConfig(api_key=key, api_url=url, **options))
    try:
        with pytest.raises(EditingError) as caught:
            provider.edit(EditRequest(image=jpeg_bytes(64, 48), prompt="x", enhanced_prompt=None))
    finally:
        provider.close()
    return caught.value


@pytest.mark.parametrize(
    ("key", "error_class"),
    [
        ("request-moderated", "moderated"),
        ("content-moderated", "moderated"),
        ("no-credits", "credits"),
        ("invalid-key", "auth"),
        ("rate-limited-always", "rate_limited"),
        ("task-error", "other"),
        ("task-lost", "other"),
        ("expired-result", "other"),
    ],
)
def test_flux_failures_are_classified(bfl: FakeServer, key: str, error_class: str) -> None:
    assert flux_error(bfl.url, key).error_class == error_class


def test_flux_timeouts_refusals_and_network_failures_are_classified(bfl: FakeServer) -> None:
    assert flux_error(bfl.url, "slow", timeout_seconds=0.3).error_class == "timeout"
    assert flux_error(bfl.url, "key", model="flux-kontext-nope").error_class == "refused"
    closed = f"http://127.0.0.1:{free_port()}"
    assert flux_error(closed, "key").error_class == "network"
    assert set(ERROR_CLASSES) >= {"moderated", "timeout", "rate_limited", "credits", "network"}


# Distributed: API + Celery worker processes sharing one multiprocess folder --------------------


@pytest.fixture
def stack_env(
    tmp_path: Path,
    postgres_url: str,
    postgres_schema: str,
    redis_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> dict[str, str]:
    return {
        **distributed_env(
            database_url=postgres_url,
            schema=postgres_schema,
            redis_url=redis_url,
            s3=s3_server.env(s3_bucket),
        ),
        "ADMIN_TOKEN": TOKEN,
        "METRICS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }


def test_worker_stage_durations_reach_the_api_metrics(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    migrate(stack_env)
    api = MizualServer(tmp_path / "api", stack_env, command="api").start()
    worker_port = free_port()
    worker = WorkerProcess(tmp_path / "worker", {**stack_env, "METRICS_PORT": str(worker_port)})
    private = WorkerProcess(  # on "another machine": no shared folder, its own port only
        tmp_path / "private",
        {**stack_env, "METRICS_MULTIPROC_DIR": "", "METRICS_PORT": str(free_port())},
    )
    try:
        with api.client() as client:
            # No worker yet: the edit waits in Celery's list in Redis.
            first = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()["edit_id"]
            waiting = scrape(api.url)
            assert waiting.value("mizual_queue_depth") == 1
            assert waiting.stage_count("initialization") == 0

            worker.start()
            wait_for_workers(client, 1)
            assert wait_for(client, first)["status"] == "completed"
            refused = edit_and_wait(client, "add a hat", jpeg_bytes(64, 48))
            assert refused["status"] == "failed"

            # The API process ran no stage: these were recorded by the worker's pool process.
            metrics = scrape(api.url)
            counts = {stage: metrics.stage_count(stage) for stage in STAGES}
            assert counts == {
                "initialization": 2,
                "enhancing_prompt": 2,
                "fetching_image": 2,
                "ai_processing": 1,
                "uploading_result": 1,
                "completion": 1,
            }
            assert metrics.value("mizual_edits_finished_total", status="completed") == 1
            assert metrics.value("mizual_edits_finished_total", status="failed") == 1
            errors = metrics.value(
                "mizual_provider_errors_total", provider="local", error_class="invalid_prompt"
            )
            assert errors == 1
            assert metrics.value("mizual_queue_depth") == 0
            assert metrics.value("mizual_cache_hits_total", backend="redis") is not None

            # The worker's own port shows the same folder.
            from_worker = scrape(f"http://127.0.0.1:{worker_port}")
            assert from_worker.stage_count("completion") == 1
            unauthorised = httpx.get(f"http://127.0.0.1:{worker_port}/metrics")
            assert unauthorised.status_code == 401
            worker.stop()

            # A worker without the shared folder records into a private one it serves itself.
            private.start()
            wait_for_workers(client, 1)
            assert edit_and_wait(client, "flip it", jpeg_bytes(64, 48))["status"] == "completed"
            assert scrape(api.url).stage_count("completion") == 1  # unchanged
        port = private.env["METRICS_PORT"]
        assert scrape(f"http://127.0.0.1:{port}").stage_count("completion") == 1
        folder = re.search(r"worker metrics at \S+ \(folder (\S+)\)", private.log())
        assert folder is not None, private.log()
        assert Path(folder.group(1)).is_dir()
    finally:
        worker.stop()
        private.stop()
        api.stop()
    assert not Path(folder.group(1)).exists()  # removed when that worker stopped
    assert list((tmp_path / "metrics").glob("histogram_*.db"))


def test_recording_a_metric_is_cheap(tmp_path: Path) -> None:
    """Microseconds per observation, in multiprocess mode too (an mmap write, no system call):
    nothing an edit of tens of milliseconds could notice."""
    script = """
import sys, time
from mizual.observability import metrics, multiprocess
from mizual.settings import load_settings
mode = sys.argv[1]
folder = mode if mode != "memory" else None
multiprocess.configure(load_settings(metrics_multiproc_dir=folder, _env_file=None))
assert (multiprocess.multiprocess_folder() is not None) == (folder is not None)
started = time.perf_counter()
for _ in range(10_000):
    metrics.observe_stage("completion", 0.01)
    metrics.edit_finished("completed")
print((time.perf_counter() - started) / 10_000)
"""
    for mode in ("memory", str(tmp_path / "metrics")):
        done = subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
        )
        seconds_per_edit = float(done.stdout)
        assert seconds_per_edit < 100e-6, (mode, seconds_per_edit)
