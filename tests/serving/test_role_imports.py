"""A process imports what its role needs: an embedded server with local storage never loads
boto3 (about 26 MB) or Celery, which only S3 storage and distributed mode use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import jpeg_bytes

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
