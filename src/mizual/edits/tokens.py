"""Edit tokens: the submitter's secret for one edit (`edit_token`), kept only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# 32 random bytes: 43 characters of URL-safe base64.
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """SHA-256, hex: a token of 256 random bits needs no salt or slow hash to be safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    if stored_hash is None:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)
