"""Images given by URL (`image_url`), fetched by the API at submit time, as webhooks are sent.

The same rules as webhooks (`mizual.kit.safehttp`): https only unless http is allowed, no
private, loopback, link-local or reserved address unless the host is listed, the check made on
the address connected to (so DNS rebinding reaches nothing private), no proxy, and no redirect
followed: its target would be a choice of the host's that nobody checked. The body is counted
while it streams (never more than `max_bytes` is read) and the whole fetch has one deadline, so
a host that drips a byte a second is cut off too. Each refusal is a `MizualError` whose message
names `image_url` and says what the host did.
"""

from __future__ import annotations

import time

import httpcore
import httpx

from mizual.errors import InvalidInput, PayloadTooLarge, UnsupportedImageType
from mizual.kit.dataurl import describe_bytes
from mizual.kit.safehttp import Resolver, UnsafeDestination, check_url, safe_client, system_resolver

_CHUNK_BYTES = 64 * 1024
# An image URL is a public address; a 2 KB URL is already a long one.
MAX_URL_CHARS = 2048


class ImageFetcher:
    """One httpx client per process (its connections pooled), closed with the runtime."""

    def __init__(
        self,
        *,
        allow_http: bool,
        allowed_hosts: list[str],
        timeout_seconds: float,
        max_bytes: int,
        resolver: Resolver = system_resolver,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.allow_http = allow_http
        self.allowed_hosts = list(allowed_hosts)
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.resolver = resolver
        self._client = safe_client(
            allow_http=allow_http,
            allowed_hosts=allowed_hosts,
            timeout=timeout_seconds,
            resolver=resolver,
            inner=inner,
        )

    def fetch(self, url: str) -> bytes:
        """The bytes at `url` (not yet checked as an image: the caller inspects them)."""
        url = url.strip()
        if len(url) > MAX_URL_CHARS:
            raise InvalidInput(f"image_url: the URL is longer than {MAX_URL_CHARS} characters")
        try:
            # At once, for a clear reason; the connection is checked again (see the module).
            check_url(
                url,
                allow_http=self.allow_http,
                allowed_hosts=self.allowed_hosts,
                resolver=self.resolver,
            )
            return self._download(url)
        except UnsafeDestination as exc:
            raise InvalidInput(f"image_url: {_reason(exc.reason)}") from None
        except httpx.TimeoutException:
            raise _too_slow(self.timeout_seconds) from None
        except httpx.HTTPError as exc:
            raise InvalidInput(
                f"image_url: the image could not be fetched ({type(exc).__name__}: {exc}); "
                "check the URL, or send the file itself"
            ) from None

    def _download(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout_seconds
        with self._client.stream("GET", url, headers={"Accept": "image/*"}) as response:
            if response.is_redirect:
                target = response.headers.get("location", "")[:200]
                raise InvalidInput(
                    f"image_url: the address answered {response.status_code} (a redirect to "
                    f"{target!r}); redirects are not followed, give the image's own URL"
                )
            if not response.is_success:
                raise InvalidInput(
                    f"image_url: the address answered {response.status_code} "
                    f"{response.reason_phrase}, not the image"
                )
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            if content_type.startswith("text/") or content_type.endswith(("/json", "+xml")):
                raise UnsupportedImageType(
                    f"image_url: the address answered a {content_type} document, not an image"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large()
            received = bytearray()
            for chunk in response.iter_bytes(_CHUNK_BYTES):
                received += chunk
                if len(received) > self.max_bytes:
                    raise self._too_large()
                if time.monotonic() > deadline:
                    raise _too_slow(self.timeout_seconds)
        if not received:
            raise InvalidInput("image_url: the address answered an empty body, not an image")
        return bytes(received)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"image_url: the image is larger than {describe_bytes(self.max_bytes)}, the most "
            "this server accepts"
        )

    def close(self) -> None:
        self._client.close()


def _too_slow(seconds: float) -> InvalidInput:
    return InvalidInput(
        f"image_url: the image took longer than {seconds:g} s to fetch; give a faster address "
        "or send the file itself"
    )


def _reason(reason: str) -> str:
    # safehttp's policy is shared with webhooks, whose setting its message names.
    return reason.replace("WEBHOOK_ALLOWED_HOSTS", "IMAGE_URL_ALLOWED_HOSTS")
