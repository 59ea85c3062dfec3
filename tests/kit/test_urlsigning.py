"""The signing of local image links: what passes, what is refused and why, and the key file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mizual.kit.storage.local import LocalStorage
from mizual.kit.urlsigning import (
    EXPIRY_BUCKET_SECONDS,
    KEY_FILE_NAME,
    Refusal,
    UrlSigner,
    load_or_create_key,
)

KEY = "k" * 64
PATH = "/images/preview/results/abc.jpg"
NOW = 1_800_000_000.0


def test_a_signed_link_passes_until_its_expiry_and_says_how_long_it_has_left() -> None:
    signer = UrlSigner(key=KEY, ttl_seconds=3600)
    expires = signer.expiry(now=NOW)
    assert NOW + 3600 <= expires < NOW + 3600 + EXPIRY_BUCKET_SECONDS
    assert expires % EXPIRY_BUCKET_SECONDS == 0
    signature = signer.sign(PATH, expires=expires)
    assert len(signature) == 64
    assert int(signature, 16) >= 0

    verdict = signer.verify(PATH, expires=str(expires), signature=signature, now=NOW)
    assert verdict.ok
    assert verdict.remaining_seconds == int(expires - NOW)
    late = signer.verify(PATH, expires=str(expires), signature=signature, now=expires)
    assert late.refusal is Refusal.EXPIRED
    assert late.remaining_seconds == 0


def test_links_made_within_the_same_minute_are_the_same_link() -> None:
    signer = UrlSigner(key=KEY, ttl_seconds=60)
    start = 1_800_000_040.0  # a whole number of minutes
    assert signer.query(PATH, now=start) == signer.query(PATH, now=start + 19.5)


@pytest.mark.parametrize(
    ("expires", "signature", "refusal"),
    [
        (None, None, Refusal.MISSING),
        ("", "", Refusal.MISSING),
        ("right", None, Refusal.MISSING),
        (None, "right", Refusal.MISSING),
        ("right", "0" * 64, Refusal.INVALID),
        ("right", "right-but-uppercase", Refusal.INVALID),
        ("later", "right", Refusal.INVALID),  # the expiry is covered by the signature
        ("-5", "right", Refusal.INVALID),
        ("1e9", "right", Refusal.INVALID),
        ("٣٣", "right", Refusal.INVALID),  # digits, but not ASCII ones
        ("right", "é" * 64, Refusal.INVALID),
    ],
)
def test_a_missing_or_wrong_signature_is_refused(
    expires: str | None, signature: str | None, refusal: Refusal
) -> None:
    signer = UrlSigner(key=KEY, ttl_seconds=3600)
    good_expires = signer.expiry(now=NOW)
    good = signer.sign(PATH, expires=good_expires)
    values = {
        "right": str(good_expires),
        "later": str(good_expires + 60),
    }
    signatures = {"right": good, "right-but-uppercase": good.upper()}
    verdict = signer.verify(
        PATH,
        expires=values.get(expires, expires) if expires is not None else None,
        signature=signatures.get(signature, signature) if signature is not None else None,
        now=NOW,
    )
    assert verdict.refusal is refusal


def test_the_signature_covers_the_path_and_depends_on_the_key() -> None:
    signer = UrlSigner(key=KEY, ttl_seconds=3600)
    expires = signer.expiry(now=NOW)
    signature = signer.sign(PATH, expires=expires)
    other_path = signer.verify(
        "/images/preview/results/other.jpg", expires=str(expires), signature=signature, now=NOW
    )
    assert other_path.refusal is Refusal.INVALID
    other_key = UrlSigner(key="x" * 64, ttl_seconds=3600)
    assert other_key.sign(PATH, expires=expires) != signature
    assert KEY not in repr(signer)


def test_the_key_file_is_made_once_private_and_shared_by_concurrent_callers(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "images"
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        keys.append(load_or_create_key(folder))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert len(keys[0]) == 64
    key_file = folder / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == keys[0]
    assert [p.name for p in folder.iterdir()] == [KEY_FILE_NAME]  # no temporary file left
    assert load_or_create_key(folder) == keys[0]


def test_a_key_file_that_holds_no_key_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("short\n")
    os.chmod(tmp_path / KEY_FILE_NAME, 0o600)
    with pytest.raises(RuntimeError, match="LOCAL_URL_SIGNING_SECRET"):
        load_or_create_key(tmp_path)


def test_local_storage_signs_its_links_and_checks_them(tmp_path: Path) -> None:
    signer = UrlSigner(key=KEY, ttl_seconds=600)
    storage = LocalStorage(root=tmp_path, base_url="https://mizual.example", signer=signer)
    url = storage.url("preview/results/abc.jpg")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://mizual.example/images/preview/results/abc.jpg"
    )
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert set(query) == {"expires", "signature"}
    assert storage.check_link("preview/results/abc.jpg", **query).ok
    assert not storage.check_link("preview/results/abd.jpg", **query).ok

    unsigned = LocalStorage(root=tmp_path, base_url="https://mizual.example")
    assert unsigned.url("a/b.jpg") == "https://mizual.example/images/a/b.jpg"
    assert unsigned.check_link("a/b.jpg", expires=None, signature=None).ok
