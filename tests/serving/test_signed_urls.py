"""Signed, expiring local image links (LOCAL_URL_SIGNING=true), through real HTTP on an embedded
server: the links an edit's status hands out download; the same path unsigned, tampered with or
past its expiry is a 403; the key file is never served; a restarted server (any process sharing
the image folder) accepts the links handed out before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mizual.kit.urlsigning import KEY_FILE_NAME, UrlSigner
from mizual.settings.variables import SECRET_FIELDS
from tests.support import MizualServer, assert_error, jpeg_bytes, submit, wait_for

SIGNED = {"LOCAL_URL_SIGNING": "true", "LOCAL_URL_TTL_SECONDS": "60"}


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    instance = MizualServer(tmp_path_factory.mktemp("signed"), SIGNED).start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def completed(signed_server: MizualServer) -> dict[str, object]:
    """One finished edit: its status view, and the bytes of the photo uploaded."""
    photo = jpeg_bytes()
    with signed_server.client() as client:
        response = submit(client, "make it warmer", photo)
        assert response.status_code == 200, response.text
        view = wait_for(client, response.json()["edit_id"])
    assert view["status"] == "completed", view
    return {"view": view, "photo": photo}


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def without_query(url: str) -> str:
    return url.split("?", 1)[0]


def key_in(data_dir: Path) -> str:
    return (data_dir / "images" / KEY_FILE_NAME).read_text().strip()


def test_the_links_of_an_edit_download_and_are_cached_no_longer_than_they_live(
    signed_server: MizualServer, completed: dict[str, object]
) -> None:
    view = completed["view"]
    assert isinstance(view, dict)
    original = httpx.get(view["original_image_url"])
    assert original.status_code == 200, original.text
    assert original.content == completed["photo"]
    result = httpx.get(view["edited_image_url"])
    assert result.status_code == 200, result.text
    key = urlsplit(view["edited_image_url"]).path.removeprefix("/images/")
    assert result.content == (signed_server.data_dir / "images" / key).read_bytes()
    assert result.headers["content-type"] == "image/jpeg"

    expires = int(query_of(view["edited_image_url"])["expires"])
    remaining = expires - time.time()
    assert 0 < remaining <= 60 + 60  # the TTL, rounded up to a whole minute
    cache_control = result.headers["cache-control"]
    assert cache_control.startswith("private, max-age="), cache_control
    assert 0 < int(cache_control.rsplit("=", 1)[1]) <= remaining
    assert "immutable" not in cache_control
    head = httpx.head(view["edited_image_url"])
    assert head.status_code == 200
    assert head.headers["cache-control"].startswith("private")


def test_an_unsigned_tampered_or_expired_link_is_refused(
    signed_server: MizualServer, completed: dict[str, object]
) -> None:
    view = completed["view"]
    assert isinstance(view, dict)
    url = view["edited_image_url"]
    bare = without_query(url)
    query = query_of(url)

    assert_error(httpx.get(bare), 403, "forbidden", "not signed")
    assert_error(httpx.get(bare, params={"expires": query["expires"]}), 403, "forbidden")
    flipped = ("0" if query["signature"][0] != "0" else "1") + query["signature"][1:]
    tampered = httpx.get(bare, params={**query, "signature": flipped})
    assert_error(tampered, 403, "forbidden", "not valid")
    # A later expiry under the old signature: the expiry is signed too.
    extended = httpx.get(bare, params={**query, "expires": str(int(query["expires"]) + 3600)})
    assert_error(extended, 403, "forbidden", "not valid")
    # The signature of one image does not open another.
    original_bare = without_query(view["original_image_url"])
    assert_error(httpx.get(original_bare, params=query), 403, "forbidden", "not valid")

    # Rightly signed with the server's own key, but in the past.
    signer = UrlSigner(key=key_in(signed_server.data_dir), ttl_seconds=60)
    path = urlsplit(bare).path
    past = int(time.time()) - 5
    expired = httpx.get(
        bare, params={"expires": past, "signature": signer.sign(path, expires=past)}
    )
    assert_error(expired, 403, "forbidden", "expired")
    # ...and the same key signing a future expiry is what the server accepts.
    future = int(time.time()) + 30
    fresh = httpx.get(
        bare, params={"expires": future, "signature": signer.sign(path, expires=future)}
    )
    assert fresh.status_code == 200

    # An unknown image is refused before it is looked for: unsigned, nothing is learnt.
    assert_error(httpx.get(f"{signed_server.url}/images/preview/nothing.jpg"), 403, "forbidden")


def test_the_signing_key_is_never_served(
    signed_server: MizualServer, tmp_path: Path, completed: dict[str, object]
) -> None:
    assert completed  # the key file exists by now
    key = key_in(signed_server.data_dir)
    signer = UrlSigner(key=key, ttl_seconds=60)
    path = f"/images/{KEY_FILE_NAME}"
    expires = signer.expiry()
    for params in ({}, {"expires": expires, "signature": signer.sign(path, expires=expires)}):
        response = httpx.get(f"{signed_server.url}{path}", params=params)
        assert response.status_code == 404, response.text
        assert key not in response.text
    assert key not in signed_server.log()

    # Nor with signing off, the links then being public.
    unsigned = MizualServer(tmp_path / "unsigned").start()
    try:
        (unsigned.data_dir / "images").mkdir(parents=True, exist_ok=True)
        (unsigned.data_dir / "images" / KEY_FILE_NAME).write_text("k" * 64)
        for probe in (path, "/images/%2Eurl-signing-key", "/images/./.url-signing-key"):
            response = httpx.get(f"{unsigned.url}{probe}")
            assert response.status_code in (403, 404), (probe, response.text)
            assert "k" * 64 not in response.text
    finally:
        unsigned.stop()


def test_the_default_ttl_is_an_hour_and_a_restarted_server_accepts_earlier_links(
    tmp_path: Path,
) -> None:
    server = MizualServer(tmp_path / "restart", {"LOCAL_URL_SIGNING": "true"}).start()
    try:
        with server.client() as client:
            response = submit(client, "make it warmer", jpeg_bytes())
            assert response.status_code == 200, response.text
            view = wait_for(client, response.json()["edit_id"])
        url = view["edited_image_url"]
        ahead = int(query_of(url)["expires"]) - time.time()
        assert 3600 - 5 <= ahead <= 3600 + 60, ahead
        first = httpx.get(url)
        assert first.status_code == 200
        assert 3500 < int(first.headers["cache-control"].rsplit("=", 1)[1]) <= ahead
    finally:
        server.stop()

    # Another process on the same folder (here, the server started again) reads the same key.
    again = MizualServer(server.data_dir, {"LOCAL_URL_SIGNING": "true"}).start()
    try:
        # The same path and query; only the port differs (each start takes a free one).
        parts = urlsplit(url)
        later = httpx.get(f"{again.url}{parts.path}?{parts.query}")
        assert later.status_code == 200, later.text
        assert later.content == first.content
    finally:
        again.stop()


def test_a_configured_secret_signs_the_links_and_stays_secret(tmp_path: Path) -> None:
    assert "local_url_signing_secret" in SECRET_FIELDS  # masked wherever settings are reported
    secret = "url-secret-5ecre7-Pp3Oo2Ii1"
    env = {**SIGNED, "LOCAL_URL_SIGNING_SECRET": secret}
    server = MizualServer(tmp_path / "secret", env).start()
    try:
        with server.client() as client:
            response = submit(client, "make it warmer", jpeg_bytes())
            assert response.status_code == 200, response.text
            view = wait_for(client, response.json()["edit_id"])
            version = client.get("/version").text
        url = view["original_image_url"]
        query = query_of(url)
        path = urlsplit(url).path
        signer = UrlSigner(key=secret, ttl_seconds=60)
        assert query["signature"] == signer.sign(path, expires=int(query["expires"]))
        assert httpx.get(url).status_code == 200
        # No key file: another machine with the same secret accepts these links.
        assert not (server.data_dir / "images" / KEY_FILE_NAME).exists()
        for text in (response.text, str(view), version, server.log()):
            assert secret not in text
    finally:
        server.stop()
