"""Which address a request counts against: X-Forwarded-For only from TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import httpx
import pytest

from mizual.kit.clientip import resolve_client_ip
from tests.support import MizualServer, data_url, jpeg_bytes

IMAGE = jpeg_bytes(64, 48)
PROXIES = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "headers", "trusted", "expected"),
    [
        # Nobody trusted: the header is ignored whatever it says.
        ("203.0.113.9", ["1.2.3.4"], [], "203.0.113.9"),
        # Not from a trusted proxy: ignored.
        ("203.0.113.9", ["1.2.3.4"], PROXIES, "203.0.113.9"),
        # From a trusted proxy: the address it saw.
        ("127.0.0.1", ["198.51.100.7"], PROXIES, "198.51.100.7"),
        # A client's forged entry sits left of what the proxy appended: not believed.
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7"], PROXIES, "198.51.100.7"),
        # Through two trusted proxies: the first untrusted address from the right.
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7, 10.1.2.3"], PROXIES, "198.51.100.7"),
        # The same, split over two headers.
        ("127.0.0.1", ["6.6.6.6", "198.51.100.7, 10.1.2.3"], PROXIES, "198.51.100.7"),
        # Every hop trusted: the left-most is the origin.
        ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], PROXIES, "10.9.9.9"),
        # Garbage where a proxy's entry should be: stop at the last address believed.
        ("127.0.0.1", ["198.51.100.7, not-an-ip"], PROXIES, "127.0.0.1"),
        ("127.0.0.1", ["not-an-ip, 10.1.2.3"], PROXIES, "10.1.2.3"),
        # Ports and brackets as some proxies write them; IPv4-mapped IPv6 peers.
        ("127.0.0.1", ["198.51.100.7:5555"], PROXIES, "198.51.100.7"),
        ("127.0.0.1", ["[2001:db8::7]:443"], PROXIES, "2001:db8::7"),
        ("::ffff:127.0.0.1", ["198.51.100.7"], PROXIES, "198.51.100.7"),
        ("127.0.0.1", [], PROXIES, "127.0.0.1"),
        ("127.0.0.1", ["  "], PROXIES, "127.0.0.1"),
    ],
)
def test_resolve_client_ip(
    peer: str, headers: list[str], trusted: list[ipaddress.IPv4Network], expected: str
) -> None:
    assert resolve_client_ip(peer, headers, trusted_proxies=trusted) == expected


def test_forged_forwarded_for_from_an_untrusted_peer_does_not_bypass_limits(
    make_server: Callable[..., MizualServer],
) -> None:
    server = make_server({"RATE_LIMIT_DAILY_IMAGES": "2", "RATE_LIMIT_BURST_SECONDS": "0"})
    with server.client() as client:
        for number in range(2):
            forged = {"X-Forwarded-For": f"198.51.100.{number}"}
            assert _submit(client, forged).status_code == 200
        refused = _submit(client, {"X-Forwarded-For": "198.51.100.99"})
        assert refused.status_code == 429, refused.text
        assert "at most 2 edits a day" in refused.json()["detail"]


def test_clients_behind_a_trusted_proxy_each_have_their_own_limit(
    make_server: Callable[..., MizualServer],
) -> None:
    server = make_server(
        {
            "RATE_LIMIT_DAILY_IMAGES": "1",
            "RATE_LIMIT_BURST_SECONDS": "0",
            "TRUSTED_PROXIES": "127.0.0.1",
        }
    )
    with server.client() as client:
        alice = {"X-Forwarded-For": "198.51.100.1"}
        bob = {"X-Forwarded-For": "198.51.100.2"}
        assert _submit(client, alice).status_code == 200
        assert _submit(client, bob).status_code == 200
        assert _submit(client, alice).status_code == 429
        # Alice cannot pass as someone else by prepending an address of her choosing.
        spoofed = {"X-Forwarded-For": "203.0.113.50, 198.51.100.1"}
        assert _submit(client, spoofed).status_code == 429


def _submit(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    body = {"prompt": "flip it", "image": data_url(IMAGE)}
    return client.post("/edit-image/", json=body, headers=headers)
