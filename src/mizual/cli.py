"""The `mizual` command: serve (embedded), api and worker (distributed), migrate; and edit,
status and chain, a client of a running server."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from mizual.client import DEFAULT_SERVER
from mizual.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(
    help="Mizual: AI image editing with natural-language prompts.", no_args_is_help=True
)


def _settings(*, distributed: bool = False, **overrides: object) -> Settings:
    from mizual.settings_report import new_configuration_warnings

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
    from mizual.app import create_app
    from mizual.kit.db.migrate import migrate_database
    from mizual.logs import configure_logging

    settings = serve_settings(host=host, port=port)
    configure_logging(settings)
    migrate_database(settings)
    typer.echo(f"Mizual is serving at {settings.base_url} (API docs at {settings.base_url}/docs)")
    _run_server(create_app(settings), settings)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to listen on [env: HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env: PORT]")] = None,
) -> None:
    """Run the HTTP API alone; edits go to Celery workers (`mizual worker`) through the broker."""
    from mizual.app import create_app
    from mizual.logs import configure_logging

    settings = _settings(distributed=True, host=host, port=port)
    configure_logging(settings)
    typer.echo(f"Mizual API at {settings.base_url}; edits go to {_broker(settings)}")
    _run_server(create_app(settings, with_workers=False), settings)


def _run_server(app: FastAPI, settings: Settings) -> None:
    """uvicorn, with one addition: on SIGTERM/SIGINT the open event streams end at once, instead
    of holding the graceful shutdown for its 10 s (their clients reconnect elsewhere)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.events.end_streams()

    server = Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=10,
            # Mizual reads X-Forwarded-For itself, and only from TRUSTED_PROXIES.
            proxy_headers=False,
        )
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run: the server could not start


@app.command()
def worker() -> None:
    """Run a Celery worker that processes edits (CELERY_CONCURRENCY processes)."""
    settings = _settings(distributed=True)
    from mizual.logs import configure_logging

    configure_logging(settings)
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
    configure_logging(settings)
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


# A client of a running server: edit, status, chain ------------------------------------------

ServerOption = Annotated[
    str,
    typer.Option("--server", envvar="MIZUAL_SERVER", help="The Mizual server's address"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON as it is")]


@app.command()
def edit(
    photo: Annotated[Path, typer.Argument(help="The photo to edit (JPEG, PNG, WebP, BMP, TIFF)")],
    prompt: Annotated[str, typer.Argument(help='What to change, e.g. "make it black and white"')],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to save the result (default: PHOTO.edited.jpg, or .png)"
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    parent: Annotated[
        str | None,
        typer.Option("--parent", help="A completed edit this one continues (a chain)"),
    ] = None,
) -> None:
    """Edit a photo on a running Mizual server, follow its progress, save the result."""
    from mizual.client import ClientError, MizualClient, default_output, read_photo
    from mizual.clientview import Progress

    with _client_errors(), MizualClient(server) as client:
        image = read_photo(photo)
        edit_id = client.submit(image, prompt, parent=parent)
        with Progress(edit_id) as progress:
            view: dict[str, object] = {}
            try:
                for view in client.follow(edit_id):
                    progress.show(view)
            except KeyboardInterrupt:
                progress.stop()
                typer.echo(f"mizual: stopped following; see: mizual status {edit_id}", err=True)
                raise typer.Exit(130) from None
        if view.get("is_error"):
            raise ClientError(f"the edit failed: {view.get('message')}")
        url = view.get("edited_image_url")
        if not isinstance(url, str):
            raise ClientError(f"edit {edit_id} finished without a result")
        data, content_type = client.download(url)
        target = output or default_output(photo, content_type, url)
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise ClientError(f"{target}: cannot be written ({exc.strerror or exc})") from None
        typer.echo(f"Saved {target} (edit {edit_id})")


@app.command()
def status(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="The edit's id")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show an edit's status, stage timings and result."""
    from mizual.client import MizualClient
    from mizual.clientview import describe_status

    with _client_errors(), MizualClient(server) as client:
        view = client.status(edit_id)
    typer.echo(json.dumps(view, indent=2) if as_json else describe_status(view))


@app.command()
def chain(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="Any edit of the chain")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show every edit of the chain through an edit, first to last."""
    from mizual.client import MizualClient
    from mizual.clientview import describe_chain

    with _client_errors(), MizualClient(server) as client:
        body = client.chain(edit_id)
    typer.echo(json.dumps(body, indent=2) if as_json else describe_chain(body))


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """A client's failure is one line on stderr and exit status 1, never a traceback."""
    from mizual.client import ClientError

    try:
        yield
    except ClientError as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(1) from None


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
