"""Builds the editing provider that the settings name."""

from __future__ import annotations

from mizual.providers.editing.base import EditingProvider
from mizual.providers.editing.local import LocalEditingProvider
from mizual.providers.editing.noop import NoopEditingProvider
from mizual.settings import EditProvider, Settings


def build_editing_provider(settings: Settings) -> EditingProvider:
    match settings.edit_provider:
        case EditProvider.LOCAL:
            return LocalEditingProvider()
        case EditProvider.NOOP:
            return NoopEditingProvider(delay_seconds=settings.noop_edit_delay_seconds)
    raise ValueError(f"unknown EDIT_PROVIDER {settings.edit_provider!r}")
