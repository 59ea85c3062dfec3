"""The rules of idempotent submits (`Idempotency-Key`).

A request with a key first claims it: one row per (client address, route, key), inserted only if
absent, so of two requests at the same moment, in one process or many, exactly one claims it.
The holder runs the request and records a 2xx answer (`complete`), or deletes its claim on any
other outcome (`release`), so that a retry runs afresh. A request that finds the key taken:

- answered, with the same body: the stored answer is replayed;
- with another body: refused (`InvalidInput`), whatever the row's state;
- still in progress: `Busy` (the caller waits and asks again);
- claimed more than STALE_AFTER ago and unanswered (its process died), or first claimed more
  than TTL ago (expired): taken over, as if the row were absent.

Only SHA-256 hashes of the key and of the request are stored. A secret in the answer (the
`edit_token`) is stored XORed with a pad derived from the raw key, which is never stored: a
replay, which brings the key again, can reverse it; the database alone cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mizual.errors import InvalidInput
from mizual.idempotency.repository import DONE, IdempotencyRepository, KeyId, KeyRow
from mizual.kit.db.tables import utcnow

TTL = timedelta(hours=24)
# A submission takes well under a second; a claim unanswered for a minute belongs to a process
# that died (or a request that was cut off) and would otherwise block its key for a day.
STALE_AFTER = timedelta(seconds=60)
# How long a request waits for another holding its key, then 409 (the route's glue).
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.1
MAX_KEY_LENGTH = 255

_CLAIM_ROUNDS = 3  # insert, find the row gone (released meanwhile), insert again, ...
_STRING_CHUNK = 1 << 20  # characters hashed at a time: a 27 MB data URL is never copied whole
_PAD_LABEL = b"mizual-idempotency-seal:"


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: run it, then `complete` or `release`."""

    claim: str


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Busy:
    """Another request holds the key and has not answered yet."""


Outcome = Claimed | Replay | Busy


def parse_key(value: str) -> str:
    """The header's value, or `InvalidInput`: 1 to 255 printable ASCII characters."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise InvalidInput(
            f"Idempotency-Key: must be 1 to {MAX_KEY_LENGTH} printable ASCII characters "
            "(a random UUID is best)"
        )
    return value


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def request_hash(value: Any) -> str:
    """SHA-256 of the body's canonical JSON (sorted names, no whitespace, ASCII), so the same
    JSON sent again, re-serialised, is the same request. Fed in pieces, never built whole."""
    digest = hashlib.sha256()
    _feed(digest.update, value)
    return digest.hexdigest()


def _feed(update: Callable[[bytes], object], value: Any) -> None:
    if isinstance(value, dict):
        update(b"{")
        for position, name in enumerate(sorted(value)):
            if position:
                update(b",")
            _feed_string(update, name)
            update(b":")
            _feed(update, value[name])
        update(b"}")
    elif isinstance(value, list):
        update(b"[")
        for position, item in enumerate(value):
            if position:
                update(b",")
            _feed(update, item)
        update(b"]")
    elif isinstance(value, str):
        _feed_string(update, value)
    else:  # a number, true, false or null
        update(json.dumps(value).encode())


def _feed_string(update: Callable[[bytes], object], text: str) -> None:
    # JSON escapes each code point on its own, so a string escaped in slices is escaped whole.
    update(b'"')
    for start in range(0, len(text), _STRING_CHUNK):
        piece = json.dumps(text[start : start + _STRING_CHUNK])
        update(piece[1:-1].encode())
    update(b'"')


class IdempotencyService:
    def __init__(
        self,
        *,
        repository: IdempotencyRepository,
        ttl: timedelta = TTL,
        stale_after: timedelta = STALE_AFTER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repository = repository
        self.ttl = ttl
        self.stale_after = stale_after
        self.clock = clock

    def is_live(self, key: KeyId) -> bool:
        """The key has an answer or a request running: what comes is a replay (or a 422)."""
        row = self.repository.get(key)
        return row is not None and not self._dead(row, self.clock())

    def claim(self, key: KeyId, *, request_hash: str, raw_key: str) -> Outcome:
        for _ in range(_CLAIM_ROUNDS):
            now = self.clock()
            claim = secrets.token_hex(16)
            if self.repository.insert_claim(key, request_hash=request_hash, claim=claim, now=now):
                return Claimed(claim)
            row = self.repository.get(key)
            if row is None:
                continue  # released between the two statements: try again
            if self._dead(row, now):
                taken = self.repository.take_over(
                    key, old_claim=row.claim, request_hash=request_hash, claim=claim, now=now
                )
                if taken:
                    return Claimed(claim)
                continue  # another request took it over first: look again
            if row.request_hash != request_hash:
                raise InvalidInput(
                    "Idempotency-Key: this key was already used for a request with a different "
                    "body; send a new key for a new request"
                )
            if row.state == DONE and row.response is not None:
                return Replay(row.status_code or 200, _unseal(row.response, raw_key))
            return Busy()
        return Busy()

    def complete(
        self,
        key: KeyId,
        *,
        claim: str,
        raw_key: str,
        status_code: int,
        body: dict[str, Any],
        secret_fields: Iterable[str] = (),
    ) -> bool:
        """Keep the answer for replays; False if the claim was lost (taken over meanwhile)."""
        stored = _seal(body, raw_key, secret_fields)
        return self.repository.complete(
            key, claim=claim, status_code=status_code, response=stored, now=self.clock()
        )

    def release(self, key: KeyId, *, claim: str) -> None:
        self.repository.release(key, claim=claim)

    def sweep(self) -> int:
        """Delete the expired keys; how many were deleted."""
        return self.repository.delete_older_than(self.clock() - self.ttl)

    def _dead(self, row: KeyRow, now: datetime) -> bool:
        expired = row.created_at < now - self.ttl
        stale = row.state != DONE and row.updated_at < now - self.stale_after
        return expired or stale


def _seal(body: dict[str, Any], raw_key: str, secret_fields: Iterable[str]) -> dict[str, Any]:
    """The answer as stored: secrets apart, each XORed with a pad of the raw key."""
    salt = secrets.token_bytes(16)
    clear = dict(body)
    sealed: dict[str, str] = {}
    for field in secret_fields:
        value = clear.pop(field, None)
        if isinstance(value, str):
            data = value.encode()
            sealed[field] = _xor(data, _pad(raw_key, salt, field, len(data))).hex()
    return {"body": clear, "sealed": sealed, "salt": salt.hex()}


def _unseal(stored: dict[str, Any], raw_key: str) -> dict[str, Any]:
    salt = bytes.fromhex(stored["salt"])
    body = dict(stored["body"])
    for field, hex_value in stored["sealed"].items():
        data = bytes.fromhex(hex_value)
        body[field] = _xor(data, _pad(raw_key, salt, field, len(data))).decode()
    return body


def _pad(raw_key: str, salt: bytes, field: str, length: int) -> bytes:
    """HMAC-SHA256 keyed by the raw key, in counter mode: unique per answer (the salt)."""
    blocks = []
    for counter in range((length + 31) // 32):
        message = _PAD_LABEL + salt + field.encode() + b":" + counter.to_bytes(4, "big")
        blocks.append(hmac.digest(raw_key.encode(), message, "sha256"))
    return b"".join(blocks)[:length]


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))
