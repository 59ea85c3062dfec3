"""The client's address, seen through the reverse proxies the operator trusts.

`X-Forwarded-For` is believed only when the TCP peer is a trusted proxy, and then read from the
right: each trusted proxy appends the address it saw, so the first untrusted address from the
right is the client. Anything to its left was written by the client and could be forged.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# Every request parses its peer's address (and a proxy's header): the same few strings over
# and over. Bounded, so a client sending a new forged header each time only churns the cache.
@functools.lru_cache(maxsize=4096)
def _parse(value: str) -> IPAddress | None:
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:443
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def resolve_client_ip(
    peer: str, forwarded_for: Iterable[str], *, trusted_proxies: Sequence[IPNetwork]
) -> str:
    """`peer` is the TCP peer; `forwarded_for` every X-Forwarded-For header, in order."""
    peer_address = _parse(peer)
    if peer_address is None or not trusted_proxies or not _trusted(peer_address, trusted_proxies):
        return str(peer_address) if peer_address is not None else peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    client = peer_address
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # A trusted proxy never writes garbage; stop believing the header here.
            return str(client)
        client = address
        if not _trusted(address, trusted_proxies):
            break
    return str(client)
