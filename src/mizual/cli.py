"""The `mizual` command: serve (embedded), api and worker (distributed), migrate."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from mizual.settings import ConfigurationError, Settings, load_settings

app = typer.Typer(
    help="Mizual: AI image editing with natural-language prompts.", no_args_is_help=True
)


def _settings(*, distributed: bool = False, **overrides: object) -> Settings:
    try:
        given = {k: v for k, v in overrides.items() if v is not None}
        return load_settings(distributed=distributed, **given)
    except ConfigurationError as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(2) from None


def serve_settings(*, host: str | None, port: int | None) -> Settings:
    """Settings for `serve`: the preview profile unless ENVIRONMENT is set (env or .env)."""
    settings = _settings(host=host, port=port)
    if "environment" not in settings.model_fields_set:
        # A person trying Mizual out gets room for dozens of edits.
        settings = _settings(host=host, port=port, environment="preview")
    return settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [env: HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env: PORT]")] = None,
) -> None:
    """Run everything in one process: API, workers, SQLite and local images (embedded mode)."""
    import uvicorn

    from mizual.app import create_app
    from mizual.kit.db.migrate import migrate_database
    from mizual.logs import configure_logging

    settings = serve_settings(host=host, port=port)
    configure_logging(settings.log_level)
    migrate_database(settings)
    typer.echo(f"Mizual is serving at {settings.base_url} (API docs at {settings.base_url}/docs)")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
        # Mizual reads X-Forwarded-For itself, and only from TRUSTED_PROXIES.
        proxy_headers=False,
    )


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to listen on [env: HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env: PORT]")] = None,
) -> None:
    """Run the HTTP API alone; edits go to Celery workers (`mizual worker`) through the broker."""
    import uvicorn

    from mizual.app import create_app
    from mizual.logs import configure_logging

    settings = _settings(distributed=True, host=host, port=port)
    configure_logging(settings.log_level)
    typer.echo(f"Mizual API at {settings.base_url}; edits go to {_broker(settings)}")
    uvicorn.run(
        create_app(settings, with_workers=False),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
        # Mizual reads X-Forwarded-For itself, and only from TRUSTED_PROXIES.
        proxy_headers=False,
    )


@app.command()
def worker() -> None:
    """Run a Celery worker that processes edits (CELERY_CONCURRENCY processes)."""
    settings = _settings(distributed=True)
    from mizual.logs import configure_logging

    configure_logging(settings.log_level)
    from mizual.worker import app as celery_app

    celery_app.worker_main(
        [
            "worker",
            f"--concurrency={settings.celery_concurrency}",
            f"--loglevel={settings.log_level}",
            f"--hostname=mizual@%h-{os.getpid()}",
        ]
    )


def _broker(settings: Settings) -> str:
    """The broker's address without its credentials."""
    return settings.celery_broker_url.rsplit("@", 1)[-1]


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest version."""
    from mizual.kit.db.migrate import migrate_database
    from mizual.logs import configure_logging

    settings = _settings()
    if settings.database_url is None:
        # The embedded database: the one `serve` would use, with serve's profile.
        settings = serve_settings(host=None, port=None)
    configure_logging(settings.log_level)
    migrate_database(settings)
    where = (
        f"schema {settings.database_schema}"
        if settings.database_backend == "postgresql"
        else str(settings.resolved_database_url)
    )
    typer.echo(
        f"database is up to date ({settings.database_backend}, {where}, "
        f"ENVIRONMENT={settings.environment.value})"
    )


providers_app = typer.Typer(help="The AI services Mizual is configured to use.")
app.add_typer(providers_app, name="providers")


@providers_app.command("check")
def providers_check() -> None:
    """Make one cheap call to each configured AI service and say whether it works."""
    from mizual.providers.check import check_providers

    lines, healthy = check_providers(_settings(distributed=False))
    for line in lines:
        typer.echo(line)
    if not healthy:
        raise typer.Exit(1)


def main() -> None:
    app()
