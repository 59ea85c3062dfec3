"""Edit tokens: the submitter's secret for one edit (`edit_token`), kept only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from pydantic import SecretStr

from mizual.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from mizual.edits.repository import EditRecord

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


def authorize(
    record: EditRecord, *, token: str | None, admin_token: SecretStr | None, doing: str
) -> None:
    """The submitter's right to act on the edit (`doing`: "cancelling", "deleting"): its
    edit_token, or the admin token. Unauthorized without a token, Forbidden with another."""
    if not token:
        raise Unauthorized(
            f"{doing} an edit needs 'Authorization: Bearer <edit_token>', with the edit_token "
            "its submission answered"
        )
    if not (token_matches(token, record.edit_token_hash) or _is_admin(token, admin_token)):
        raise Forbidden(
            f"this token does not allow {doing} edit {record.uuid}: send the edit_token that "
            "its submission answered"
        )


def _is_admin(token: str, admin_token: SecretStr | None) -> bool:
    admin = admin_token.get_secret_value() if admin_token is not None else ""
    return bool(admin) and hmac.compare_digest(token.encode(), admin.encode())
