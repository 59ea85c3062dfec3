"""Outgoing HTTP to addresses a client chose (webhooks): refused when not public.

PLACEHOLDER: the webhooks helper replaces this module; only the signature below is relied on
by `edits.service` (the submit-time check)."""

from __future__ import annotations


class UnsafeDestination(Exception):
    """The URL may not be called; `reason` says why, for the person who gave it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_url(url: str, *, allow_http: bool, allowed_hosts: list[str]) -> None:
    """Refuse (UnsafeDestination) a URL that is not http(s) as allowed, or whose host resolves
    to any non-public address, unless the host is in `allowed_hosts`."""
    del url, allow_http, allowed_hosts
