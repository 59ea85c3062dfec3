"""Celery's configuration (kit/queue/celery.py): options that fit the broker, and no result
backend whatever the environment says."""

from __future__ import annotations

import json
import time
from pathlib import Path
from uuid import uuid4

import pytest

from mizual.kit.queue.celery import build_celery
from mizual.kit.queue.celery_queue import CeleryQueue
from mizual.settings import check_variables, load_settings
from tests.support import (
    MizualServer,
    S3Server,
    distributed_env,
    free_port,
    jpeg_bytes,
    migrate,
    submit,
)

IGNORED = "CELERY_RESULT_BACKEND is ignored"


def _dead_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_no_result_backend_and_no_result_subscription_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Celery reads this variable ahead of its configuration; a dispatch then subscribed to the
    # job's result there, and waited ~19 s for this dead Redis before failing.
    monkeypatch.setenv("CELERY_RESULT_BACKEND", _dead_redis())
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    settings = load_settings(celery_broker_url="memory://")
    queue = CeleryQueue(settings)
    app = queue.app
    assert app.backend.as_uri() == "disabled://"
    edit = uuid4()
    started = time.monotonic()
    queue.dispatch(edit)
    assert time.monotonic() - started < 2
    with app.connection_for_read() as connection:
        message = connection.SimpleQueue(app.conf.task_default_queue).get(timeout=1)
        assert json.loads(message.body)[0] == [str(edit)]
        message.ack()
    queue.close()


def test_transport_options_fit_the_broker() -> None:
    redis_app = build_celery(load_settings(celery_broker_url="redis://127.0.0.1:6379/0"))
    options = redis_app.conf.broker_transport_options
    assert options["visibility_timeout"] == 3600
    assert options["global_keyprefix"] == "production:celery:"
    # RabbitMQ hands a dead consumer's jobs back when its connection closes; no timeout to set.
    amqp_app = build_celery(load_settings(celery_broker_url="amqp://guest:guest@127.0.0.1//"))
    assert amqp_app.conf.broker_transport_options == {}
    for app in (redis_app, amqp_app):
        assert app.conf.task_acks_late
        assert app.conf.task_reject_on_worker_lost
        assert app.conf.worker_prefetch_multiplier == 1


def test_a_set_result_backend_is_one_warning_that_it_is_ignored() -> None:
    warnings = check_variables([{"CELERY_RESULT_BACKEND": "redis://cache:6379/1"}, {}])
    assert [w for w in warnings if IGNORED in w] == [
        "CELERY_RESULT_BACKEND is ignored: Mizual uses no Celery result backend, because an "
        "edit's row in the database is its result (GET /edit/{uuid}); unset it"
    ]
    assert "cache:6379" not in str(warnings)
    assert not [w for w in check_variables([{"CELERY_BROKER_URL": "redis://x"}]) if IGNORED in w]


def test_a_submission_with_a_result_backend_set_and_the_broker_down_is_a_quick_503(
    tmp_path: Path, postgres_url: str, postgres_schema: str, s3_server: S3Server, s3_bucket: str
) -> None:
    dead = _dead_redis()
    env = {
        **distributed_env(
            database_url=postgres_url,
            schema=postgres_schema,
            redis_url=dead,
            s3=s3_server.env(s3_bucket),
        ),
        "CELERY_RESULT_BACKEND": dead,  # the usual set-up: results in the broker's Redis
    }
    migrate(env)
    api = MizualServer(tmp_path / "api", env, command="api").start()
    try:
        with api.client() as client:
            started = time.monotonic()
            refused = submit(client, "flip it", jpeg_bytes(64, 48))
            elapsed = time.monotonic() - started
    finally:
        api.stop()
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # The publish retry policy gives up after about a second (it was ~20 s, on the backend).
    assert elapsed < 5, elapsed
    assert api.log().count(IGNORED) == 1, api.log()
