"""Signed, expiring links: an HMAC-SHA256 over a path and an expiry, carried in the query.

`UrlSigner.sign(path, expires=...)` gives the hex signature; `UrlSigner.verify(...)` says whether
a link may be served, and if not why (missing, wrong, expired). The key is either given (a
secret every process serving the same files shares) or made once and kept in a file next to the
files (`load_or_create_key`), which every process sharing that folder reads."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import math
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

KEY_FILE_NAME = ".url-signing-key"

# Expiries are rounded up to a whole bucket, so that every view built within the same minute
# hands out the same URL (a browser's cache keeps working) while a link still lives at least the
# TTL it was promised.
EXPIRY_BUCKET_SECONDS = 60

# 256 bits, as many as SHA-256 gives: a longer key adds nothing, a shorter one is guessable.
_KEY_BYTES = 32
# Shorter than this, the key file was not written by us (truncated, or edited by hand).
_MIN_KEY_CHARS = 16


class Refusal(enum.Enum):
    """Why a link is not served; the value is what the client reads."""

    MISSING = (
        "this image link is not signed: it needs the expires and signature query parameters "
        "(ask for the edit's status for a fresh link)"
    )
    INVALID = (
        "this image link's signature is not valid (ask for the edit's status for a fresh link)"
    )
    EXPIRED = "this image link has expired (ask for the edit's status for a fresh link)"


@dataclass(frozen=True)
class Verdict:
    refusal: Refusal | None
    # Seconds the link is still valid for (0 when refused): how long a cache may keep it.
    remaining_seconds: int = 0

    @property
    def ok(self) -> bool:
        return self.refusal is None


class UrlSigner:
    def __init__(self, *, key: str, ttl_seconds: int) -> None:
        if not key:
            raise ValueError("a URL signing key cannot be empty")
        self._key = key.encode()
        self.ttl_seconds = ttl_seconds

    def __repr__(self) -> str:  # never the key
        return f"UrlSigner(ttl_seconds={self.ttl_seconds})"

    def expiry(self, *, now: float | None = None) -> int:
        """The expiry of a link made now: at least the TTL ahead, rounded up to a bucket."""
        at = (time.time() if now is None else now) + self.ttl_seconds
        return math.ceil(at / EXPIRY_BUCKET_SECONDS) * EXPIRY_BUCKET_SECONDS

    def sign(self, path: str, *, expires: int) -> str:
        # A newline cannot occur in a URL path, so no (path, expiry) pair reads as another.
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def query(self, path: str, *, now: float | None = None) -> str:
        """The query string (without `?`) that makes a link to `path` valid for the TTL."""
        expires = self.expiry(now=now)
        return f"expires={expires}&signature={self.sign(path, expires=expires)}"

    def verify(
        self,
        path: str,
        *,
        expires: str | None,
        signature: str | None,
        now: float | None = None,
    ) -> Verdict:
        if not expires or not signature:
            return Verdict(Refusal.MISSING)
        if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            return Verdict(Refusal.INVALID)
        expected = self.sign(path, expires=int(expires))
        # Constant time, so the signature cannot be guessed a character at a time.
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return Verdict(Refusal.INVALID)
        remaining = int(expires) - (time.time() if now is None else now)
        if remaining <= 0:
            return Verdict(Refusal.EXPIRED)
        return Verdict(None, remaining_seconds=int(remaining))


def load_or_create_key(folder: Path) -> str:
    """The key kept in `folder`, made (random, mode 0600) by whichever process comes first.

    The new key is written to a temporary file and hard-linked into place: the link fails if
    another process got there first, so every process sharing the folder ends up with the one
    file, and nobody ever reads a half-written key."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE_NAME
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(_KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won: its key is the one
        except OSError:
            # A file system without hard links: exclusive creation still lets exactly one win.
            _create_exclusively(path, Path(tmp).read_text())
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _create_exclusively(path: Path, key: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())


def _read(path: Path) -> str:
    # Only after an exclusive creation (no hard links) can the winner still be writing.
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            break
        time.sleep(0.02)
    if len(key) < _MIN_KEY_CHARS:
        raise RuntimeError(
            f"{path} does not hold a URL signing key; delete it (a new one is made, and links "
            "handed out before stop working) or set LOCAL_URL_SIGNING_SECRET"
        )
    return key
