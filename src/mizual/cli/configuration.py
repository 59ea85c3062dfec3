"""The settings a command runs with: configuration warnings on stderr first, and a bad value as
one line and exit status 2 instead of a traceback."""

from __future__ import annotations

import typer

from mizual.settings import ConfigurationError, Settings, load_settings


def read_settings(*, distributed: bool = False, **overrides: object) -> Settings:
    from mizual.settings.report import new_configuration_warnings

    for warning in new_configuration_warnings():
        typer.echo(f"mizual: warning: {warning}", err=True)
    try:
        given = {k: v for k, v in overrides.items() if v is not None}
        return load_settings(distributed=distributed, **given)
    except ConfigurationError as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(2) from None


def serve_settings(*, host: str | None, port: int | None) -> Settings:
    """Settings for `serve`: the preview profile unless ENVIRONMENT is set (env or .env)."""
    settings = read_settings(host=host, port=port)
    if "environment" not in settings.model_fields_set:
        # A person trying Mizual out gets room for dozens of edits.
        settings = read_settings(host=host, port=port, environment="preview")
    return settings
