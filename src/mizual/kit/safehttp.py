"""Outgoing HTTP to addresses a client chose (webhooks, image URLs): refused when not public.

Two checks, one policy. `check_url` at submit time gives the person a clear reason at once.
`safe_client` sends: its network backend resolves the name once, checks every address and
connects to a checked address itself, so a name that answers a public address to the check and
a private one to the connection (DNS rebinding) reaches nothing private. TLS still verifies the
certificate for the name (httpcore passes the URL's host as SNI), and Host is the URL's host.
Redirects are not followed: the target of one would be an unchecked choice of the receiver.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

# (host, port) -> the addresses it resolves to, as text.
Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPAT = ipaddress.ip_network("::/96")


class UnsafeDestination(Exception):
    """The URL may not be called; `reason` says why, for the person who gave it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(UnsafeDestination):
    """The host does not resolve: refused at submit time, but only a connection error when
    sending (DNS may be back on the next attempt)."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"the host {host!r} does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, 6to4, NAT64), else itself:
    each reaches that IPv4 host, so it is that host which is judged."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPAT and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def non_public_kind(address: IPAddress) -> str | None:
    """Why the address is not a public one ("loopback", "private", ...), or None if it is."""
    target = unwrap(address)
    # Order matters: the most telling name first (127.0.0.1 is also "private" to ipaddress).
    kinds = (
        ("unspecified", target.is_unspecified),
        ("loopback", target.is_loopback),
        ("link-local", target.is_link_local),
        ("multicast", target.is_multicast),
        ("reserved", target.is_reserved),
        ("private", target.is_private),
        # 100.64/10 (carrier-grade NAT), documentation ranges, and the like.
        ("non-public", not target.is_global),
    )
    return next((kind for kind, applies in kinds if applies), None)


class AddressPolicy:
    """Which URLs and addresses may be called. `allowed_hosts`: hosts (as written in the URL,
    lower-case, IPv6 without brackets) exempt from the address check, e.g. a test receiver."""

    def __init__(
        self,
        *,
        allow_http: bool,
        allowed_hosts: Iterable[str],
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_http = allow_http
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.resolver = resolver

    def check_url(self, url: str) -> None:
        host, port = self.check_form(url)
        self.checked_addresses(host, port)

    def check_form(self, url: str) -> tuple[str, int]:
        """The URL's host and port, if its form may be called (scheme, no credentials)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeDestination(f"not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        allowed = ("https", "http") if self.allow_http else ("https",)
        if scheme not in allowed:
            shown = scheme or "none"
            if scheme == "http":
                raise UnsafeDestination("only https:// URLs are allowed here, not http://")
            raise UnsafeDestination(
                f"the scheme {shown!r} is not allowed; use " + " or ".join(allowed)
            )
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise UnsafeDestination("credentials (user:password@) are not allowed in the URL")
        host = (parts.hostname or "").lower()
        if not host:
            raise UnsafeDestination("the URL names no host")
        return host, port or _DEFAULT_PORTS[scheme]

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`: resolved once, every one public (all of them,
        as a client may connect to any), unless the host is allowed as it is."""
        host = host.lower().strip("[]")
        addresses = self.resolver(host, port)
        if not addresses:
            raise UnresolvableHost(f"the host {host!r} does not resolve")
        if host in self.allowed_hosts:
            return addresses
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            kind = non_public_kind(address)
            if kind is not None:
                shown = host if host == text else f"{host!r} resolves to {text}, which"
                raise UnsafeDestination(
                    f"{shown} is a {kind} address; only public addresses may be called"
                    " (a host listed in WEBHOOK_ALLOWED_HOSTS is exempt)"
                )
        return addresses


def check_url(
    url: str, *, allow_http: bool, allowed_hosts: list[str], resolver: Resolver | None = None
) -> None:
    """Refuse (UnsafeDestination) a URL that is not http(s) as allowed, or whose host resolves
    to any non-public address, unless the host is in `allowed_hosts`."""
    policy = AddressPolicy(
        allow_http=allow_http, allowed_hosts=allowed_hosts, resolver=resolver or system_resolver
    )
    policy.check_url(url)


class SafeBackend(httpcore.NetworkBackend):
    """Connects only to addresses the policy accepts, resolved once, by address."""

    def __init__(self, policy: AddressPolicy, *, inner: httpcore.NetworkBackend | None = None):
        self.policy = policy
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.checked_addresses(host, port)
        except UnresolvableHost as exc:
            raise httpcore.ConnectError(exc.reason) from None
        error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the next address, as a resolver-driven connect would
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        del path, timeout, socket_options
        raise UnsafeDestination("unix sockets may not be called")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class SafeTransport(httpx.HTTPTransport):
    """httpx's transport over a `SafeBackend`; no proxy (it would connect unchecked)."""

    def __init__(self, policy: AddressPolicy, *, inner: httpcore.NetworkBackend | None = None):
        super().__init__(trust_env=False)
        self.policy = policy
        # httpx takes no network backend, so its pool is rebuilt with ours (same defaults).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=SafeBackend(policy, inner=inner),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_form(str(request.url))
        return super().handle_request(request)


def safe_client(
    *,
    allow_http: bool,
    allowed_hosts: Iterable[str],
    timeout: float,
    resolver: Resolver = system_resolver,
    inner: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """An httpx client that calls only what the policy allows; `inner`: for tests."""
    policy = AddressPolicy(allow_http=allow_http, allowed_hosts=allowed_hosts, resolver=resolver)
    return httpx.Client(
        transport=SafeTransport(policy, inner=inner),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
