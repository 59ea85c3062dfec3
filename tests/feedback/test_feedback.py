"""Feedback's address anonymisation, and the refusal to rate an unfinished edit (the rest of the
HTTP behaviour is in tests/contract/test_feedback.py)."""

from __future__ import annotations

import time

import pytest

from mizual.feedback.service import anonymize_ip
from tests.support import assert_error, jpeg_bytes, submit


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "127.0.0.0"),
        ("203.0.113.77", "203.0.113.0"),
        ("10.1.2.255", "10.1.2.0"),
        ("2001:db8:abcd:1234:5678:9abc:def0:1234", "2001:db8:abcd::"),
        ("2001:db8:abcd:ffff::1", "2001:db8:abcd::"),
        ("::1", "::"),
        ("::ffff:192.168.1.77", "192.168.1.0"),  # IPv4-mapped IPv6: anonymised as IPv4
        ("not an address", None),
        ("unknown", None),  # what the app records when it has no client address
        ("999.1.1.1", None),
        ("", None),
        (None, None),
    ],
)
def test_anonymize_ip(address: str | None, expected: str | None) -> None:
    assert anonymize_ip(address) == expected


def test_an_unfinished_edit_cannot_be_rated(make_server) -> None:  # type: ignore[no-untyped-def]
    # One worker, busy for a minute with the first edit: the second waits its turn.
    server = make_server(
        {"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "60", "MAX_WORKERS": "1"}
    )
    with server.client() as client:
        busy = submit(client, "make it brighter", jpeg_bytes(64, 48)).json()["edit_id"]
        queued = submit(client, "make it brighter", jpeg_bytes(64, 48)).json()["edit_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/edit/{busy}").json()["status"] != "processing":
            assert time.monotonic() < deadline, "the first edit never started"
            time.sleep(0.05)
        assert client.get(f"/edit/{queued}").json()["status"] == "pending"

        for edit_id, reason in ((busy, "it is still being made"), (queued, "it has not started")):
            refused = client.post("/feedback/", json={"edit_uuid": edit_id, "rating": 1})
            assert_error(
                refused,
                400,
                "not_ready",
                "You can rate an edit once it has finished successfully",
                reason,
            )
            assert client.get(f"/feedback/{edit_id}").status_code == 404
    server.kill()  # not the graceful stop, which would wait for the minute-long edit
