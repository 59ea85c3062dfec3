"""Standard Webhooks signatures (https://www.standardwebhooks.com/), as Replicate sends them.

The signed content is "{webhook-id}.{webhook-timestamp}.{body}"; the key is the secret's base64
part, decoded. A receiver verifies with any Standard Webhooks library and the same secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 - the form's prefix, not a secret


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, key: bytes, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, key: bytes, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The headers of one attempt: the id is the message's, the timestamp the attempt's."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(
            key=key, message_id=message_id, timestamp=timestamp, body=body
        ),
    }
