"""SigV4 signing: AWS's published examples, and botocore's signer as a second opinion on the
requests Mizual makes (the S3 server of the tests, moto, does not check signatures)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from mizual.kit.storage import s3http
from mizual.kit.storage.s3http import S3HttpStorage
from mizual.kit.storage.sigv4 import Credentials, payload_hash, presigned_query, signed_headers

# From "Authenticating Requests: Using the Authorization Header" and "... Query Parameters" in
# the Amazon S3 API reference.
EXAMPLE = Credentials(
    access_key_id="AKIAIOSFODNN7EXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    region="us-east-1",
)
EXAMPLE_TIME = datetime(2013, 5, 24, tzinfo=UTC)
NOW = datetime(2026, 12, 4, 3, 4, 5, tzinfo=UTC)


def test_the_authorization_header_of_aws_example_get() -> None:
    headers = signed_headers(
        EXAMPLE,
        method="GET",
        host="examplebucket.s3.amazonaws.com",
        path="/test.txt",
        headers={"Range": "bytes=0-9"},
        body_hash=payload_hash(b""),
        now=EXAMPLE_TIME,
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["x-amz-date"] == "20130524T000000Z"


def test_the_presigned_url_of_aws_example() -> None:
    query = presigned_query(
        EXAMPLE,
        method="GET",
        host="examplebucket.s3.amazonaws.com",
        path="/test.txt",
        expires_seconds=86400,
        now=EXAMPLE_TIME,
    )
    assert query.endswith(
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    scope = "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    assert f"X-Amz-Credential={scope}" in query


STORES = [
    pytest.param("http://127.0.0.1:9000", None, id="minio-on-a-port"),
    pytest.param("https://s3.us-west-004.backblazeb2.com", "us-west-004", id="backblaze"),
    pytest.param("https://acc.r2.cloudflarestorage.com/", "auto", id="r2-trailing-slash"),
    pytest.param("http://storage.internal", "eu-central-1", id="default-port"),
]


@pytest.mark.parametrize(("endpoint", "region"), STORES)
def test_presigned_urls_are_botocores(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, region: str | None
) -> None:
    monkeypatch.setattr(s3http, "_now", lambda: NOW)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    ours = S3HttpStorage(
        bucket="mizual-images",
        endpoint_url=endpoint,
        region=region,
        access_key_id="AK-test",
        secret_access_key="sk/test+secret",
        public_base_url=None,
        presign_seconds=3600,
    )
    theirs = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="AK-test",
        aws_secret_access_key="sk/test+secret",
        config=Config(signature_version="s3v4"),
    )
    key = "production/results/0b1c-2.jpg"
    assert ours.url(key) == theirs.generate_presigned_url(
        "get_object", Params={"Bucket": "mizual-images", "Key": key}, ExpiresIn=3600
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_put_is_signed_as_botocore_signs_it(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    credentials = Credentials(access_key_id="AK", secret_access_key="SK", region="eu-west-1")
    body = b"\xff\xd8\xff jpeg bytes"
    content = {"content-type": "image/jpeg", "cache-control": "public, max-age=31536000"}
    ours = signed_headers(
        credentials,
        method="PUT",
        host="minio:9000",
        path="/bucket/preview/originals/a.jpg",
        headers=content,
        body_hash=payload_hash(body),
        now=NOW,
    )
    request = AWSRequest(
        method="PUT",
        url=f"{scheme}://minio:9000/bucket/preview/originals/a.jpg",
        data=body,
        headers=dict(content),
    )
    botocore.auth.S3SigV4Auth(BotoCredentials("AK", "SK"), "s3", "eu-west-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-content-sha256"] == request.headers["X-Amz-Content-SHA256"]


def test_a_secret_is_not_in_the_credentials_repr() -> None:
    assert "wJalr" not in repr(EXAMPLE)
