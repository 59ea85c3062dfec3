"""Signatures a Standard Webhooks receiver accepts."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mizual.webhooks.signing import secret_key, signed_headers

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_standardwebhooks_verifies_the_signature() -> None:
    body = '{"uuid":"x","status":"completed","event":"completed"}'
    headers = signed_headers(
        key=secret_key(SECRET), message_id="msg_1", timestamp=int(time.time()), body=body
    )
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == {
        "uuid": "x",
        "status": "completed",
        "event": "completed",
    }


def test_a_changed_body_or_another_secret_fails_verification() -> None:
    body = '{"event":"completed"}'
    headers = signed_headers(
        key=secret_key(SECRET), message_id="msg_1", timestamp=int(time.time()), body=body
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify('{"event":"failed"}', headers)
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
