"""Which web pages may call the API from a browser (CORS), from a list of allowed origins.

An origin is `scheme://host[:port]`. A `*` inside an origin stands for one DNS label (letters,
digits and '-', no dot), so `https://app-git-*.vercel.app` admits every preview deployment of
that project and nothing on another domain. A bare `*` admits every page, and then credentials
are never allowed: a browser refuses `*` with credentials, and echoing any origin back with
credentials would let every site act as the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.*-]+(:\d{1,5})?")
_LABEL = "[A-Za-z0-9-]+"
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
# Read by the web page: how long a rate-limited client must wait.
EXPOSED_HEADERS = ["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
PREFLIGHT_CACHE_SECONDS = 600


def parse_origins(value: Any) -> Any:
    """`https://a.example, https://*.b.example` → a list; each entry checked."""
    if not isinstance(value, str):
        return value
    origins = [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"{origin!r} is not an origin: expected scheme://host[:port] such as "
                "https://mizual.ai (no path), a '*' standing for one part of the host name, "
                "or '*' alone for every origin"
            )
    return origins


@dataclass(frozen=True)
class CorsPolicy:
    origins: tuple[str, ...]
    credentials: bool

    @property
    def allows_any_origin(self) -> bool:
        return "*" in self.origins

    def middleware_options(self) -> dict[str, Any]:
        """Keyword arguments for Starlette's CORSMiddleware."""
        exact = [origin for origin in self.origins if "*" not in origin]
        patterns = [
            _LABEL.join(re.escape(part) for part in origin.split("*"))
            for origin in self.origins
            if "*" in origin and origin != "*"
        ]
        return {
            "allow_origins": ["*"] if self.allows_any_origin else exact,
            "allow_origin_regex": "|".join(f"(?:{p})" for p in patterns) or None,
            "allow_credentials": self.credentials and not self.allows_any_origin,
            "allow_methods": METHODS,
            "allow_headers": ["*"],
            "expose_headers": EXPOSED_HEADERS,
            "max_age": PREFLIGHT_CACHE_SECONDS,
        }
