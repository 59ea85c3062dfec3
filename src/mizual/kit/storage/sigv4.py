"""AWS Signature Version 4, as S3 and the stores that speak its API check it: the headers that
sign one request, and the query string of a presigned URL.

Written against AWS's own examples (tests/kit/test_sigv4.py checks them, and checks the result
against botocore's signer for the requests Mizual makes)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
# The body is not part of the signature: allowed over HTTPS, where TLS protects it anyway.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str
    service: str = "s3"


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_path(path: str) -> str:
    """S3 encodes a key's path once (other AWS services twice), keeping the slashes."""
    return quote(path, safe="/~")


def canonical_query(params: Mapping[str, str]) -> str:
    encoded = sorted((_encode(name), _encode(value)) for name, value in params.items())
    return "&".join(f"{name}={value}" for name, value in encoded)


def signed_headers(
    credentials: Credentials,
    *,
    method: str,
    host: str,
    path: str,
    headers: Mapping[str, str],
    body_hash: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to send: `headers` with `host`, `x-amz-date`, `x-amz-content-sha256` and the
    `authorization` that signs them all. `now` is in UTC."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    sent = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    sent.update({"host": host, "x-amz-date": stamp, "x-amz-content-sha256": body_hash})
    names = ";".join(sorted(sent))
    listed = "".join(f"{name}:{sent[name]}\n" for name in sorted(sent))
    request = "\n".join([method, canonical_path(path), "", listed, names, body_hash])
    scope = _scope(credentials, stamp)
    signature = _signature(credentials, stamp=stamp, scope=scope, canonical_request=request)
    sent["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return sent


def presigned_query(
    credentials: Credentials,
    *,
    method: str,
    host: str,
    path: str,
    expires_seconds: int,
    now: datetime,
) -> str:
    """The query string that lets anyone holding it make this one request until it expires."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    scope = _scope(credentials, stamp)
    params = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key_id}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires_seconds),
        "X-Amz-SignedHeaders": "host",
    }
    query = canonical_query(params)
    request = "\n".join(
        [method, canonical_path(path), query, f"host:{host}\n", "host", UNSIGNED_PAYLOAD]
    )
    signature = _signature(credentials, stamp=stamp, scope=scope, canonical_request=request)
    return f"{query}&X-Amz-Signature={signature}"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _scope(credentials: Credentials, stamp: str) -> str:
    return f"{stamp[:8]}/{credentials.region}/{credentials.service}/aws4_request"


def _signature(credentials: Credentials, *, stamp: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (stamp[:8], credentials.region, credentials.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
