"""A process imports what its role needs: an embedded server with local storage never loads
boto3 (about 26 MB) or Celery, which only S3 storage and distributed mode use; `mizual api`
never loads Alembic or an editor, which only `mizual migrate` and the workers use, nor boto3 when
the bucket's key is configured (the built-in S3 client signs its requests), nor Pillow before a BMP
arrives, nor httpx's command-line tool (rich)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import S3Server, distributed_env, jpeg_bytes, migrate

PROBE = """
import base64, json, sys
from fastapi.testclient import TestClient
from mizual.app import create_app
from mizual.kit.db.migrate import migrate_database
from mizual.settings import load_settings

settings = load_settings(DATA_DIR=sys.argv[1], EDIT_PROVIDER="noop")
migrate_database(settings)  # as `mizual serve` does first
image = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
with TestClient(create_app(settings)) as client:
    answer = client.post("/edit-image/", json={"prompt": "flip it", "image": image})
    assert answer.status_code == 200, answer.text
    client.get("/health/celery").raise_for_status()
    loaded = {name: name in sys.modules for name in ("boto3", "botocore", "celery", "kombu")}
print(json.dumps(loaded))
"""


def test_an_embedded_server_with_local_storage_loads_neither_boto3_nor_celery(
    tmp_path: Path,
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(64, 48))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data"), str(photo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"boto3": False, "botocore": False, "celery": False, "kombu": False}


API_PROBE = """
import base64, json, sys
import mizual  # first, as the `mizual` command imports it
from fastapi.testclient import TestClient
from mizual.app import create_app
from mizual.kit.db.startup import wait_for_schema
from mizual.runtime import Role
from mizual.settings import load_settings

settings = load_settings()
wait_for_schema(settings, timeout=30)  # as `mizual api` does first
image = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
with TestClient(create_app(settings, role=Role.API)) as client:
    answer = client.post("/edit-image/", json={"prompt": "flip it", "image": image})
    assert answer.status_code == 200, answer.text
    assert client.get("/version").json()["edit_provider"] == "local"
    # The original went to the bucket, and its link is presigned.
    status = client.get(f"/edit/{answer.json()['edit_id']}").json()
    assert "X-Amz-Signature=" in status["original_image_url"], status
    names = (
        "alembic", "mizual.edits.pipeline", "mizual.localedit", "mizual.providers.editing",
        "boto3", "botocore", "PIL", "rich",
    )
    loaded = {name: name in sys.modules for name in names}
print(json.dumps(loaded))
"""


def test_an_api_process_loads_neither_alembic_nor_an_editor_nor_boto3(
    tmp_path: Path,
    postgres_url: str,
    postgres_schema: str,
    redis_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    env = distributed_env(
        database_url=postgres_url,
        schema=postgres_schema,
        redis_url=redis_url,
        s3=s3_server.env(s3_bucket),
    )
    migrate(env)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(64, 48))
    result = subprocess.run(
        [sys.executable, "-c", API_PROBE, str(photo)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env, "EDIT_PROVIDER": "local"},
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not any(loaded.values()), json.dumps(loaded)
