"""S3 storage against a real S3-API server (moto's server mode) on loopback."""

from __future__ import annotations

import httpx
import pytest

from mizual.kit.storage.base import ObjectNotFound, StorageError
from mizual.kit.storage.s3 import S3Storage
from mizual.runtime import build_storage
from mizual.settings import load_settings
from tests.support import S3Server, colourfulness, edit_and_wait, fetch_image, jpeg_bytes


def storage_for(server: S3Server, bucket: str, **overrides: object) -> S3Storage:
    options: dict[str, object] = {
        "bucket": bucket,
        "endpoint_url": server.url,
        "region": "us-east-1",
        "access_key_id": "test",
        "secret_access_key": "test",
        "public_base_url": None,
        "presign_seconds": 600,
    }
    options.update(overrides)
    return S3Storage(**options)  # type: ignore[arg-type]


def test_put_get_exists_and_presigned_url(s3_server: S3Server, s3_bucket: str) -> None:
    storage = storage_for(s3_server, s3_bucket)
    storage.put("preview/results/a.jpg", b"\xff\xd8\xff-bytes", content_type="image/jpeg")
    assert storage.get("preview/results/a.jpg") == b"\xff\xd8\xff-bytes"
    assert storage.exists("preview/results/a.jpg")
    assert not storage.exists("preview/results/missing.jpg")
    with pytest.raises(ObjectNotFound):
        storage.get("preview/results/missing.jpg")

    url = storage.url("preview/results/a.jpg")
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=600" in url
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"\xff\xd8\xff-bytes"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, max-age=31536000"
    storage.close()


def test_public_base_url_replaces_presigning(s3_server: S3Server, s3_bucket: str) -> None:
    storage = storage_for(s3_server, s3_bucket, public_base_url="https://cdn.example.com/")
    assert storage.url("production/originals/x.png") == (
        "https://cdn.example.com/production/originals/x.png"
    )


def test_unsafe_keys_and_unreachable_store(s3_server: S3Server, s3_bucket: str) -> None:
    assert not storage_for(s3_server, s3_bucket).exists("../etc/passwd")
    dead = storage_for(s3_server, s3_bucket, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StorageError):
        dead.put("preview/originals/x.jpg", b"x", content_type="image/jpeg")
    with pytest.raises(StorageError):
        dead.get("preview/originals/x.jpg")


def test_storage_is_chosen_by_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert not isinstance(build_storage(load_settings(data_dir=tmp_path)), S3Storage)
    assert isinstance(
        build_storage(load_settings(data_dir=tmp_path, s3_endpoint_url="http://127.0.0.1:9")),
        S3Storage,
    )
    assert isinstance(
        build_storage(load_settings(data_dir=tmp_path, storage_backend="S3")), S3Storage
    )
    forced_local = load_settings(data_dir=tmp_path, storage_backend="local", s3_access_key_id="key")
    assert not isinstance(build_storage(forced_local), S3Storage)


def test_server_stores_originals_and_results_in_the_bucket(  # type: ignore[no-untyped-def]
    make_server, s3_server: S3Server, s3_bucket: str
) -> None:
    secret = "s3-secret-never-logged"
    server = make_server({**s3_server.env(s3_bucket), "S3_SECRET_ACCESS_KEY": secret})
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes())
        assert status["status"] == "completed", status
        assert status["edited_image_url"].startswith(f"{s3_server.url}/{s3_bucket}/preview/")
        response, result = fetch_image(client, status["edited_image_url"])
        assert response.headers["content-type"] == "image/jpeg"
        assert colourfulness(result) < 1.0
        _, original = fetch_image(client, status["original_image_url"])
        assert colourfulness(original) > 20
        # The API does not serve images itself when they live in a bucket.
        key = status["edited_image_url"].split(f"/{s3_bucket}/", 1)[1].split("?", 1)[0]
        assert client.get(f"/images/{key}").status_code == 404
    assert secret not in server.log()
