"""How a variable's text becomes a value: sizes (`20MiB`), comma-separated lists, networks, image
formats, and the reference's FLUX_API_URL split into an address and a model."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

from mizual.kit.cors import parse_origins
from mizual.settings.enums import FluxModel

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_byte_size(value: Any) -> int:
    """Accept `600MB`, `20MiB`, `1048576` or an int."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError("expected a size in bytes, such as 10485760 or 20MiB")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


_FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heif": "heic"}


def parse_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip().lower() for item in value.split(",") if item.strip()]
    return value


def parse_image_types(value: Any) -> Any:
    """Lower-case format names; common spellings (jpg, tif, heif) mean their format."""
    items = parse_csv(value)
    if isinstance(items, list):
        return [_FORMAT_ALIASES.get(str(item).lower(), str(item).lower()) for item in items]
    return items


def parse_networks(value: Any) -> Any:
    """`10.0.0.1, 192.168.0.0/16, ::1`: addresses or networks, comma-separated."""
    items = parse_csv(value)
    if not isinstance(items, list):
        return items
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            raise ValueError(
                "expected comma-separated IP addresses or networks, such as "
                f"10.0.0.0/8, 192.168.1.7; {str(item)!r} is neither"
            ) from None
    return networks


def parse_hosts(value: Any) -> Any:
    """`hooks.internal, 127.0.0.1, [::1]`: host names or addresses, comma-separated."""
    items = parse_csv(value)
    if not isinstance(items, list):
        return items
    hosts = []
    for item in items:
        host = str(item).strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
        if not re.fullmatch(r"[a-z0-9_.:\-]+", host):
            raise ValueError(
                "expected comma-separated host names or IP addresses, such as "
                f"hooks.internal, 127.0.0.1; {str(item)!r} is neither"
            )
        hosts.append(host)
    return hosts


def is_webhook_secret(value: str) -> bool:
    """A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 bytes."""
    if not value.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
HostList = Annotated[list[str], NoDecode, BeforeValidator(parse_hosts)]
OriginList = Annotated[list[str], NoDecode, BeforeValidator(parse_origins)]
NetworkList = Annotated[
    list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode, BeforeValidator(parse_networks)
]
ImageTypeList = Annotated[list[str], NoDecode, BeforeValidator(parse_image_types)]


_FLUX_ENDPOINT = re.compile(r"(https?://[^\s?#]+?)/v1/([^/?#\s]+)/?")
FLUX_API_URL_SHAPE = (
    "expected a BFL endpoint ending in "
    + " or ".join(f"/v1/{model.value}" for model in FluxModel)
    + f", such as https://api.bfl.ai/v1/{FluxModel.PRO.value}"
)


def split_flux_api_url(url: str) -> tuple[str, FluxModel] | None:
    """`https://api.bfl.ai/v1/flux-kontext-max` → (`https://api.bfl.ai`, the max model), as
    the FLUX client builds `{BFL_API_URL}/v1/{BFL_MODEL}`; None for any other shape or model."""
    match = _FLUX_ENDPOINT.fullmatch(url.strip())
    if match is None:
        return None
    try:
        return match.group(1), FluxModel(match.group(2).lower())
    except ValueError:
        return None


def parse_flux_api_url(value: str | None) -> str | None:
    """FLUX_API_URL: unset when blank, else an endpoint `split_flux_api_url` understands."""
    if value is None or not value.strip():
        return None
    if split_flux_api_url(value) is None:
        raise ValueError(FLUX_API_URL_SHAPE)
    return value.strip()


def is_redis_url(url: str) -> bool:
    """A Redis server's URL (which the broker, the cache and the limits may share)."""
    return url.startswith(("redis://", "rediss://"))
