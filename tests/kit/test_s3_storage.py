"""S3 storage against a real S3-API server (moto's server mode) on loopback, with each client:
the built-in one (a key configured) and boto3 (the credential chain)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mizual.kit.storage.base import ObjectNotFound, Storage, StorageError
from mizual.kit.storage.s3 import S3Storage
from mizual.kit.storage.s3http import S3HttpStorage
from mizual.runtime import build_storage
from mizual.settings import load_settings
from tests.support import S3Server, colourfulness, edit_and_wait, fetch_image, jpeg_bytes

CLIENTS = [pytest.param(S3HttpStorage, id="built-in"), pytest.param(S3Storage, id="boto3")]


@pytest.fixture(params=CLIENTS)
def client_class(request: pytest.FixtureRequest) -> type[Any]:
    return request.param  # type: ignore[no-any-return]


def storage_for(
    server: S3Server, bucket: str, client_class: type[Any] = S3HttpStorage, **overrides: object
) -> Storage:
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
    return client_class(**options)  # type: ignore[no-any-return]


def test_put_get_exists_and_presigned_url(
    s3_server: S3Server, s3_bucket: str, client_class: type[Any]
) -> None:
    storage = storage_for(s3_server, s3_bucket, client_class)
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
    storage.delete("preview/results/a.jpg")
    storage.delete("preview/results/a.jpg")  # nothing there: no error either
    assert not storage.exists("preview/results/a.jpg")
    storage.close()


def test_public_base_url_replaces_presigning(
    s3_server: S3Server, s3_bucket: str, client_class: type[Any]
) -> None:
    storage = storage_for(
        s3_server, s3_bucket, client_class, public_base_url="https://cdn.example.com/"
    )
    assert storage.url("production/originals/x.png") == (
        "https://cdn.example.com/production/originals/x.png"
    )


def test_unsafe_keys_and_unreachable_store(
    s3_server: S3Server, s3_bucket: str, client_class: type[Any]
) -> None:
    assert not storage_for(s3_server, s3_bucket, client_class).exists("../etc/passwd")
    dead = storage_for(s3_server, s3_bucket, client_class, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StorageError) as put_failed:
        dead.put("preview/originals/x.jpg", b"x", content_type="image/jpeg")
    assert put_failed.value.transient  # an outage: the pipeline waits for the store
    with pytest.raises(StorageError):
        dead.get("preview/originals/x.jpg")


def test_a_missing_bucket_is_a_refusal_not_an_outage(
    s3_server: S3Server, client_class: type[Any]
) -> None:
    storage = storage_for(s3_server, "no-such-bucket-here", client_class)
    with pytest.raises(StorageError) as refused:
        storage.put("preview/originals/x.jpg", b"x", content_type="image/jpeg")
    assert not refused.value.transient
    assert "NoSuchBucket" in str(refused.value)
    assert "test" not in str(refused.value).replace("no-such-bucket-here", "")  # no key


class _FlakyStore(BaseHTTPRequestHandler):
    """Answers each PUT first with `failures` errors of one kind, then 200."""

    answers: list[tuple[int, bytes]] = []
    seen: list[str] = []

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(self.headers["Authorization"])
        status, body = self.answers.pop(0) if self.answers else (200, b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _FlakyStore.answers, _FlakyStore.seen = [], []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your rate.</Message></Error>"
DENIED = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"


def test_the_built_in_client_retries_a_throttle_and_a_5xx(flaky_store: str) -> None:
    _FlakyStore.answers = [(503, SLOW_DOWN), (500, b"")]
    storage = S3HttpStorage(
        bucket="b",
        endpoint_url=flaky_store,
        region=None,
        access_key_id="AK",
        secret_access_key="SK",
        public_base_url=None,
        presign_seconds=600,
    )
    storage.put("preview/originals/x.jpg", b"x", content_type="image/jpeg")
    assert len(_FlakyStore.seen) == 3  # two refusals, then the write
    # Each try is signed anew (a signature names its second).
    assert all(seen.startswith("AWS4-HMAC-SHA256 Credential=AK/") for seen in _FlakyStore.seen)

    _FlakyStore.answers, _FlakyStore.seen = [(503, SLOW_DOWN)] * 3, []
    with pytest.raises(StorageError) as throttled:
        storage.put("preview/originals/x.jpg", b"x", content_type="image/jpeg")
    assert throttled.value.transient
    assert "SlowDown" in str(throttled.value)
    assert len(_FlakyStore.seen) == 3

    _FlakyStore.answers, _FlakyStore.seen = [(403, DENIED)], []
    with pytest.raises(StorageError) as denied:
        storage.put("preview/originals/x.jpg", b"x", content_type="image/jpeg")
    assert not denied.value.transient
    assert "AccessDenied" in str(denied.value)
    assert len(_FlakyStore.seen) == 1  # a refusal is not tried again


def test_a_forked_child_builds_its_own_connections(s3_server: S3Server, s3_bucket: str) -> None:
    import os

    storage = storage_for(s3_server, s3_bucket)
    assert isinstance(storage, S3HttpStorage)
    storage.put("preview/originals/p.jpg", b"parent", content_type="image/jpeg")
    parents = storage.client
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own client, and the object readable through it
        try:
            fresh = storage.client is not parents
            os.write(write, b"ok" if fresh and storage.get("preview/originals/p.jpg") else b"no")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    assert storage.client is parents  # the parent's stays open and in use
    assert storage.get("preview/originals/p.jpg") == b"parent"


def test_storage_is_chosen_by_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert not isinstance(
        build_storage(load_settings(data_dir=tmp_path)), (S3Storage, S3HttpStorage)
    )
    # With a key: the built-in client; without one, boto3 and its credential chain.
    keyed = load_settings(data_dir=tmp_path, s3_access_key_id="key", s3_secret_access_key="secret")
    assert isinstance(build_storage(keyed), S3HttpStorage)
    assert isinstance(
        build_storage(load_settings(data_dir=tmp_path, s3_endpoint_url="http://127.0.0.1:9")),
        S3Storage,
    )
    assert isinstance(
        build_storage(load_settings(data_dir=tmp_path, storage_backend="S3")), S3Storage
    )
    forced_local = load_settings(data_dir=tmp_path, storage_backend="local", s3_access_key_id="key")
    assert not isinstance(build_storage(forced_local), (S3Storage, S3HttpStorage))


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


def test_threads_share_the_built_in_client(s3_server: S3Server, s3_bucket: str) -> None:
    """The API's thread pool calls the bucket from many threads at once, over one client."""
    from concurrent.futures import ThreadPoolExecutor

    storage = storage_for(s3_server, s3_bucket)
    assert isinstance(storage, S3HttpStorage)

    def round_trip(n: int) -> tuple[bytes, int]:
        key = f"preview/originals/t{n}.jpg"
        storage.put(key, f"photo {n}".encode() * 1000, content_type="image/jpeg")
        return storage.get(key), id(storage.client)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(round_trip, range(64)))
    assert [data for data, _ in results] == [f"photo {n}".encode() * 1000 for n in range(64)]
    assert {client for _, client in results} == {id(storage.client)}
    storage.close()
