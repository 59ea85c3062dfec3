"""The commands that run Mizual: serve (embedded), api and worker (distributed), migrate, and
providers check."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from mizual.cli.configuration import read_settings, serve_settings
from mizual.cli.help import Command, Group, unwrapped
from mizual.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# Holds the commands until `mizual.cli.commands` adds them to `mizual`, in this order.
server_commands = typer.Typer(cls=Group)
providers = typer.Typer(cls=Group, help="The AI services Mizual is configured to use.")

# Rich reads `[...]` in a help text as markup and drops it: the brackets are escaped.
HostOption = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help=r"Address to listen on, e.g. 0.0.0.0 for every network \[env var: HOST] "
        r"\[default: 127.0.0.1]",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        metavar="NUMBER",
        help=r"API processes sharing the port (1-64) \[env var: API_WORKERS] \[default: 1]",
        show_default=False,
    ),
]
PortOption = Annotated[
    int | None,
    typer.Option(
        metavar="NUMBER",
        help=r"Port to listen on \[env var: PORT] \[default: 10000]",
        show_default=False,
    ),
]


@server_commands.command(cls=Command)
@unwrapped
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run everything in one process: API, workers, SQLite and local images (embedded mode).

    Settings come from the environment and .env (docs/configuration.md); without ENVIRONMENT,
    the preview profile's generous limits apply. LOG_LEVEL sets how much is logged.
    """
    from mizual.app import create_app
    from mizual.kit.db.migrate import migrate_database
    from mizual.logs import configure_logging

    settings = serve_settings(host=host, port=port)
    configure_logging(settings)
    listener = _listen(settings)
    migrate_database(settings)
    typer.echo(f"Mizual is serving at {settings.base_url} (API docs at {settings.base_url}/docs)")
    _run_server(app=create_app(settings), settings=settings, listener=listener)


@server_commands.command(cls=Command)
@unwrapped
def api(host: HostOption = None, port: PortOption = None, workers: WorkersOption = None) -> None:
    """Run the HTTP API alone; edits go to Celery workers (`mizual worker`) through the broker.

    It needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis), shared with the workers,
    and waits (STARTUP_WAIT_SECONDS) for `mizual migrate` to have brought the schema up to date.
    """
    from mizual.app import create_app
    from mizual.logs import configure_logging
    from mizual.runtime import Role

    settings = read_settings(distributed=True, host=host, port=port, api_workers=workers)
    configure_logging(settings)
    listener = _listen(settings)  # first: a port in use is said before anything else
    _wait_for_schema(settings)
    processes = settings.api_workers
    typer.echo(
        f"Mizual API at {settings.base_url}; edits go to {_broker(settings)}"
        + (f" ({processes} processes)" if processes > 1 else "")
    )
    if processes == 1:
        app = create_app(settings, role=Role.API)
        _run_server(app=app, settings=settings, listener=listener)
        return
    _run_workers(settings, listener)


def _run_workers(settings: Settings, listener: socket.socket) -> None:
    """`API_WORKERS` child processes; each builds the app from the environment, which is
    given --host and --port, so they run with the settings this process read."""
    from mizual.observability import multiprocess
    from mizual.serving import run_workers

    os.environ["HOST"], os.environ["PORT"] = settings.host, str(settings.port)
    # Each child counts what it does; /metrics, answered by any one of them, must add up all
    # of them: METRICS_MULTIPROC_DIR, or else a folder of this process, gone when it stops.
    multiprocess.configure(settings, private_folder=True)
    run_workers(settings=settings, listener=listener, workers=settings.api_workers)


def _listen(settings: Settings) -> socket.socket:
    from mizual.serving import CannotListen, listen

    try:
        return listen(host=settings.host, port=settings.port)
    except CannotListen as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(3) from None  # as uvicorn's: the server could not start


def _run_server(*, app: FastAPI, settings: Settings, listener: socket.socket) -> None:
    from mizual.serving import run_server

    if not run_server(app=app, settings=settings, listener=listener):
        raise typer.Exit(3)  # as uvicorn.run: the server could not start


def _wait_for_schema(settings: Settings) -> None:
    """The database answers and `mizual migrate` has run (this release's, or a newer one's),
    or exit status 1 after STARTUP_WAIT_SECONDS."""
    from mizual.kit.db.startup import DatabaseNotReady, wait_for_schema

    try:
        wait_for_schema(settings, timeout=settings.startup_wait_seconds)
    except DatabaseNotReady as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(1) from None


@server_commands.command(cls=Command)
@unwrapped
def worker() -> None:
    """Run a Celery worker that processes edits (CELERY_CONCURRENCY processes).

    It takes edits from CELERY_BROKER_URL and needs the API's DATABASE_URL and storage (S3_*).
    It waits (STARTUP_WAIT_SECONDS) for `mizual migrate` to have brought the schema up to date.
    """
    settings = read_settings(distributed=True)
    from mizual.logs import LOG_FORMAT, configure_logging

    configure_logging(settings)
    # Before Celery starts: its pool would take jobs it cannot run yet.
    _wait_for_schema(settings)
    from mizual.worker import app as celery_app

    # Celery's lines in our format, through the handler configure_logging installed.
    celery_app.conf.worker_hijack_root_logger = False
    celery_app.conf.worker_log_format = LOG_FORMAT
    celery_app.conf.worker_task_log_format = LOG_FORMAT
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


@server_commands.command(cls=Command)
@unwrapped
def migrate() -> None:
    """Create or upgrade the database schema to the latest version.

    The database is DATABASE_URL (in DATABASE_SCHEMA); unset, the SQLite file in DATA_DIR that
    `mizual serve` uses. It waits up to STARTUP_WAIT_SECONDS for the database to answer.
    """
    from mizual.kit.db.migrate import migrate_database
    from mizual.kit.db.startup import DatabaseNotReady, wait_for_database
    from mizual.logs import configure_logging

    settings = read_settings()
    if settings.database_url is None:
        # The embedded database: the one `serve` would use, with serve's profile.
        settings = serve_settings(host=None, port=None)
    configure_logging(settings)
    try:
        # Started with the database (one container stack), it may find it not up yet.
        wait_for_database(settings, timeout=settings.startup_wait_seconds)
    except DatabaseNotReady as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(1) from None
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


@providers.command("check", cls=Command)
@unwrapped
def providers_check() -> None:
    """Make one cheap call to each configured AI service and say whether it works.

    The services are those EDIT_PROVIDER (FLUX with BFL_API_KEY, or the offline editor) and
    LLM_PROVIDER (with LLM_API_KEY, or GEMINI_API_KEY, for prompt enhancement) select.
    """
    from mizual.providers.check import check_providers

    lines, healthy = check_providers(read_settings(distributed=False))
    for line in lines:
        typer.echo(line)
    if not healthy:
        raise typer.Exit(1)
