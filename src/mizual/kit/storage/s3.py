"""Images in an S3-compatible bucket (AWS S3, Backblaze B2, MinIO, ...)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mizual.kit.storage.base import ObjectNotFound, StorageError, is_safe_key

CACHE_CONTROL = "public, max-age=31536000"
_MISSING = {"404", "NoSuchKey", "NotFound"}
CONNECTIONS = 50


class S3Storage:
    """One boto3 client for the process, shared by its threads: a client is thread-safe (a
    session is not, so only one is ever used, once). Built at first use, not at start-up, so
    that a Celery pool process builds its own after the fork rather than share sockets."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        public_base_url: str | None,
        presign_seconds: int,
    ) -> None:
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presign_seconds = presign_seconds
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": Config(
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                # The API's thread pool (40) may all talk to the bucket at once.
                max_pool_connections=CONNECTIONS,
                connect_timeout=5,
                read_timeout=30,
            ),
        }
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        # Building a client costs some 60 ms of CPU: one per thread made the first status
        # polls after a quiet spell wait seconds (bench/RESULTS.md).
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = boto3.session.Session().client("s3", **self._client_options)
        return self._client

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._check(key)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
            )
        except (BotoCoreError, ClientError) as exc:
            raise _failed(f"could not write {key} to bucket {self.bucket}", exc) from exc

    def get(self, key: str) -> bytes:
        self._check(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
            return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise ObjectNotFound(key) from None
            raise _failed(f"could not read {key} from bucket {self.bucket}", exc) from exc
        except BotoCoreError as exc:
            raise _failed(f"could not read {key} from bucket {self.bucket}", exc) from exc

    def exists(self, key: str) -> bool:
        if not is_safe_key(key):
            return False
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise _failed(f"could not check {key} in bucket {self.bucket}", exc) from exc
        except BotoCoreError as exc:
            raise _failed(f"could not check {key} in bucket {self.bucket}", exc) from exc
        return True

    def delete(self, key: str) -> None:
        if not is_safe_key(key):
            return
        try:
            # S3 answers 204 whether or not the object was there.
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise _failed(f"could not delete {key} from bucket {self.bucket}", exc) from exc

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{key}"
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=self.presign_seconds,
        )
        return url

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @staticmethod
    def _check(key: str) -> None:
        if not is_safe_key(key):
            raise ObjectNotFound(key)


# Answers that say the store is unavailable for now, not that it refuses the operation.
_BUSY_CODES = {"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException"}


def _failed(what: str, exc: BotoCoreError | ClientError) -> StorageError:
    """Unreachable, a 5xx or a throttle: an outage; any other answer (no such bucket, access
    denied): a refusal that retrying will not cure."""
    transient = True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        transient = status >= 500 or status == 429 or code in _BUSY_CODES
    return StorageError(f"{what}: {exc}", transient=transient)
