"""Feedback's address anonymisation (the HTTP behaviour is in tests/contract/test_feedback.py)."""

from __future__ import annotations

import pytest

from mizual.feedback.service import anonymize_ip


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
