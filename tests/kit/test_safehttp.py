"""The outgoing-HTTP address policy: what is refused, and that the address connected to is
the one checked (no DNS rebinding)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import httpx
import pytest

from mizual.kit.safehttp import (
    AddressPolicy,
    UnsafeDestination,
    check_url,
    safe_client,
)


def resolving(*addresses: str):  # type: ignore[no-untyped-def]
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


def refusal(url: str, *addresses: str, allow_http: bool = True, hosts: list[str] | None = None):  # type: ignore[no-untyped-def]
    with pytest.raises(UnsafeDestination) as caught:
        check_url(
            url, allow_http=allow_http, allowed_hosts=hosts or [], resolver=resolving(*addresses)
        )
    return caught.value.reason


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal("https://hooks.example.com/x", address)
    assert kind in reason
    assert address in reason


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    assert "private" in refusal("https://mixed.example.com/", "93.184.216.34", "10.0.0.1")


def test_public_addresses_pass() -> None:
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"):
        check_url(
            "https://example.com/", allow_http=False, allowed_hosts=[], resolver=resolving(address)
        )


def test_allowed_hosts_are_exempt_as_written() -> None:
    check_url(
        "http://127.0.0.1:8080/",
        allow_http=True,
        allowed_hosts=["127.0.0.1"],
        resolver=resolving("127.0.0.1"),
    )
    # Another spelling of the same address is not the allowed host.
    assert "loopback" in refusal("http://localhost:8080/", "127.0.0.1", hosts=["127.0.0.1"])


def test_schemes_and_credentials() -> None:
    public = "93.184.216.34"
    assert "https" in refusal("http://example.com/", public, allow_http=False)
    assert "ftp" in refusal("ftp://example.com/", public)
    assert "credentials" in refusal("https://user:pw@example.com/", public)
    assert "no host" in refusal("https:///path", public)


def test_a_host_that_does_not_resolve_is_named() -> None:
    reason = refusal("https://no-such-host.invalid/")
    assert "does not resolve" in reason
    assert "no-such-host.invalid" in reason
    with pytest.raises(UnsafeDestination, match="does not resolve"):
        check_url("https://no-such-host.invalid/", allow_http=False, allowed_hosts=[])


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


class RecordingBackend(httpcore.SyncBackend):
    def __init__(self) -> None:
        self.connected: list[str] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        self.connected.append(host)
        return super().connect_tcp(host, port, timeout, local_address, socket_options)


def test_the_client_connects_to_the_checked_address(receiver: int) -> None:
    inner = RecordingBackend()
    with safe_client(
        allow_http=True,
        allowed_hosts=["hook.test"],
        timeout=5,
        resolver=resolving("127.0.0.1"),
        inner=inner,
    ) as client:
        response = client.post(f"http://hook.test:{receiver}/x", content=b"{}")
    assert response.status_code == 204
    assert response.request.headers["host"] == f"hook.test:{receiver}"
    assert inner.connected == ["127.0.0.1"]


def test_rebinding_never_reaches_the_private_address(receiver: int) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    url = f"http://rebind.example.com:{receiver}/x"
    policy = AddressPolicy(allow_http=True, allowed_hosts=[], resolver=rebinding)
    policy.check_url(url)  # the submit-time check sees a public address
    inner = RecordingBackend()
    with (
        safe_client(
            allow_http=True, allowed_hosts=[], timeout=5, resolver=rebinding, inner=inner
        ) as client,
        pytest.raises(UnsafeDestination, match="loopback"),
    ):
        client.post(url, content=b"{}")
    assert inner.connected == []


def test_the_client_refuses_http_and_redirects(receiver: int) -> None:
    with (
        safe_client(allow_http=False, allowed_hosts=["127.0.0.1"], timeout=5) as client,
        pytest.raises(UnsafeDestination, match="https"),
    ):
        client.post(f"http://127.0.0.1:{receiver}/", content=b"{}")
    with safe_client(allow_http=True, allowed_hosts=[], timeout=5) as client:
        assert client.follow_redirects is False
        with pytest.raises(UnsafeDestination, match="loopback"):
            client.post(f"http://127.0.0.1:{receiver}/", content=b"{}")


def test_a_name_that_stops_resolving_is_a_connection_error_when_sending() -> None:
    with (
        safe_client(allow_http=True, allowed_hosts=[], timeout=5, resolver=resolving()) as client,
        pytest.raises(httpx.ConnectError, match="does not resolve"),
    ):
        client.post("http://gone.example.com/", content=b"{}")
