"""The one check of a bearer token (`/debug/*`, `/metrics`, a worker's metrics endpoint)."""

from __future__ import annotations

import hmac


def bearer_matches(authorization: str, token: str) -> bool:
    """`authorization` is the header's value; compared in constant time."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
