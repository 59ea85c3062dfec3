"""Images in an S3-compatible bucket, over plain HTTP requests signed with SigV4.

Mizual makes five calls to a bucket (put, get, head, delete and a presigned GET). boto3 makes
them just as well, but its service models cost a process about 25 MB (bench/RESULTS.md), so a
process given a key (`S3_ACCESS_KEY_ID` and `S3_SECRET_ACCESS_KEY`) uses this client instead.
Without a key, `S3Storage` and boto3's credential chain (instance roles, profiles) take over.

Addressing follows boto3's: a custom endpoint gets `endpoint/bucket/key`; AWS itself gets
`bucket.s3.<region>.amazonaws.com/key`, or the path form for a name that is not a plain host
label."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from mizual.kit.storage.base import ObjectNotFound, StorageError, is_safe_key
from mizual.kit.storage.sigv4 import (
    Credentials,
    canonical_path,
    payload_hash,
    presigned_query,
    signed_headers,
)

CACHE_CONTROL = "public, max-age=31536000"
# The API's thread pool (40) may all talk to the bucket at once.
CONNECTIONS = 50
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Tries of one call when the store is unreachable, failing or throttling (boto3's standard
# mode also tries three times); the pipeline's own outage retries come on top.
ATTEMPTS = 3
RETRY_BASE_SECONDS = 0.1
DEFAULT_REGION = "us-east-1"

_BUSY_CODES = {"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException"}
_CODE = re.compile(rb"<Code>([^<]{1,100})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{1,300})</Message>")
_HOST_LABEL = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


class S3RequestFailed(StorageError):
    """The store answered with an error (`code` as it named it, or the HTTP status of a HEAD,
    which has no body), or could not be reached (`code` empty, `status` 0)."""

    def __init__(self, message: str, *, code: str, status: int, transient: bool) -> None:
        super().__init__(message, transient=transient)
        self.code = code
        self.status = status


class S3HttpStorage:
    """One httpx client per process, shared by its threads, built at first use and again in a
    forked child (a Celery pool process must not share its parent's sockets)."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str | None,
        access_key_id: str,
        secret_access_key: str,
        public_base_url: str | None,
        presign_seconds: int,
    ) -> None:
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presign_seconds = presign_seconds
        self.credentials = Credentials(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=region or DEFAULT_REGION,
        )
        self._origin, self._host, self._prefix = _addressing(
            bucket=bucket, endpoint_url=endpoint_url, region=self.credentials.region
        )
        self._client: httpx.Client | None = None
        self._client_pid = 0
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    limits = httpx.Limits(
                        max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS
                    )
                    self._client = httpx.Client(timeout=TIMEOUT, limits=limits)
                    self._client_pid = os.getpid()
        return self._client

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._check(key)
        headers = {"content-type": content_type, "cache-control": CACHE_CONTROL}
        self._call("PUT", key, f"could not write {key} to", body=data, headers=headers)

    def get(self, key: str) -> bytes:
        self._check(key)
        response = self._call("GET", key, f"could not read {key} from", missing_ok=True)
        if response.status_code == 404:
            raise ObjectNotFound(key)
        return response.content

    def exists(self, key: str) -> bool:
        if not is_safe_key(key):
            return False
        response = self._call("HEAD", key, f"could not check {key} in", missing_ok=True)
        return response.status_code != 404

    def delete(self, key: str) -> None:
        if not is_safe_key(key):
            return
        # S3 answers 204 whether or not the object was there.
        self._call("DELETE", key, f"could not delete {key} from")

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{key}"
        path = f"{self._prefix}/{key}"
        query = presigned_query(
            self.credentials,
            method="GET",
            host=self._host,
            path=path,
            expires_seconds=self.presign_seconds,
            now=_now(),
        )
        return f"{self._origin}{canonical_path(path)}?{query}"

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._client_pid == os.getpid():
                self._client.close()
            self._client = None

    def _call(
        self,
        method: str,
        key: str,
        what: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response:
        what = f"{what} bucket {self.bucket}"
        path = f"{self._prefix}/{key}"
        # Signed over HTTPS too: every S3-compatible store accepts a signed body (not all an
        # unsigned one), and hashing a photo costs about a millisecond a megabyte.
        body_hash = payload_hash(body)
        for attempt in range(1, ATTEMPTS + 1):
            sent = signed_headers(
                self.credentials,
                method=method,
                host=self._host,
                path=path,
                headers=headers or {},
                body_hash=body_hash,
                now=_now(),
            )
            try:
                response = self.client.request(
                    method, f"{self._origin}{canonical_path(path)}", content=body, headers=sent
                )
            except httpx.HTTPError as exc:
                failure = S3RequestFailed(
                    f"{what}: cannot reach {self._host} ({exc.__class__.__name__})",
                    code="",
                    status=0,
                    transient=True,
                )
                failure.__cause__ = exc
            else:
                if response.is_success or (missing_ok and response.status_code == 404):
                    return response
                failure = _refusal(what, response)
            if not failure.transient or attempt == ATTEMPTS:
                raise failure
            time.sleep(random.uniform(0, RETRY_BASE_SECONDS * 2**attempt))  # noqa: S311 (jitter)
        raise AssertionError("unreachable")

    @staticmethod
    def _check(key: str) -> None:
        if not is_safe_key(key):
            raise ObjectNotFound(key)


def _refusal(what: str, response: httpx.Response) -> S3RequestFailed:
    """A 5xx or a throttle: an outage; any other answer (no such bucket, access denied): a
    refusal that retrying will not cure."""
    status = response.status_code
    found = _CODE.search(response.content)
    code = found.group(1).decode(errors="replace") if found else str(status)
    message = _MESSAGE.search(response.content)
    said = f": {message.group(1).decode(errors='replace')}" if message else ""
    return S3RequestFailed(
        f"{what}: {code} (HTTP {status}){said}",
        code=code,
        status=status,
        transient=status >= 500 or status == 429 or code in _BUSY_CODES,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _addressing(*, bucket: str, endpoint_url: str | None, region: str) -> tuple[str, str, str]:
    """The origin requests go to, the Host they sign, and the path before a key."""
    if endpoint_url:
        parts = urlsplit(endpoint_url.rstrip("/"))
        return (
            f"{parts.scheme}://{parts.netloc}",
            _host(parts.scheme, parts.netloc),
            (f"{parts.path}/{bucket}"),
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    service = "s3" if region == DEFAULT_REGION else f"s3.{region}"
    if _HOST_LABEL.fullmatch(bucket):
        host = f"{bucket}.{service}.{domain}"
        return f"https://{host}", host, ""
    host = f"{service}.{domain}"
    return f"https://{host}", host, f"/{bucket}"


def _host(scheme: str, netloc: str) -> str:
    """The Host header as a client sends it: without the scheme's default port."""
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        return netloc[: -len(default)]
    return netloc
