"""The `mizual` command: serve (embedded), api and worker (distributed), migrate; and edit,
status and chain, a client of a running server."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from mizual.client import DEFAULT_SERVER, MAX_RATE_LIMIT_WAIT_SECONDS
from mizual.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mizual.client import MizualClient


def _without_type_column(params: list[Any]) -> list[Any]:
    """typer's help shows a column of Python types (`PHOTO <str>`, `--help <bool>`): noise
    beside the metavars (FILE, UUID, URL), which say more; flags need none."""
    for param in params:
        if isinstance(param, TyperArgument) or (
            isinstance(param, TyperOption) and not param.metavar
        ):
            param.display_type_rich = _no_type  # type: ignore[method-assign]
    return params


def _no_type(ctx: Any) -> None:  # noqa: ARG001
    return None


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> Any:
        return _without_type_column(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> Any:
        return _without_type_column(super().get_params(ctx))


app = typer.Typer(
    cls=Group, help="Mizual: AI image editing with natural-language prompts.", no_args_is_help=True
)


def _show_version(value: bool) -> None:
    if value:
        from mizual import __version__

        typer.echo(f"mizual {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    pass


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


def _help(text: str) -> str:
    """Rich keeps every newline of a help text: a paragraph's lines are joined here, for Rich to
    wrap to the terminal's width."""
    return "\n\n".join(" ".join(part.split()) for part in inspect.cleandoc(text).split("\n\n"))


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _unwrapped(command: _Command) -> _Command:
    """The command's docstring as its help, its paragraphs unwrapped (see _help)."""
    command.__doc__ = _help(command.__doc__ or "")
    return command


def serve_settings(*, host: str | None, port: int | None) -> Settings:
    """Settings for `serve`: the preview profile unless ENVIRONMENT is set (env or .env)."""
    settings = _settings(host=host, port=port)
    if "environment" not in settings.model_fields_set:
        # A person trying Mizual out gets room for dozens of edits.
        settings = _settings(host=host, port=port, environment="preview")
    return settings


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
PortOption = Annotated[
    int | None,
    typer.Option(
        metavar="NUMBER",
        help=r"Port to listen on \[env var: PORT] \[default: 10000]",
        show_default=False,
    ),
]


@app.command(cls=Command)
@_unwrapped
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
    _run_server(create_app(settings), settings, listener)


@app.command(cls=Command)
@_unwrapped
def api(host: HostOption = None, port: PortOption = None) -> None:
    """Run the HTTP API alone; edits go to Celery workers (`mizual worker`) through the broker.

    It needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis), shared with the workers.
    """
    from mizual.app import create_app
    from mizual.logs import configure_logging

    settings = _settings(distributed=True, host=host, port=port)
    configure_logging(settings)
    listener = _listen(settings)
    typer.echo(f"Mizual API at {settings.base_url}; edits go to {_broker(settings)}")
    _run_server(create_app(settings, with_workers=False), settings, listener)


def _listen(settings: Settings) -> socket.socket:
    from mizual.serving import CannotListen, listen

    try:
        return listen(host=settings.host, port=settings.port)
    except CannotListen as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(3) from None  # as uvicorn's: the server could not start


def _run_server(app: FastAPI, settings: Settings, listener: socket.socket) -> None:
    from mizual.serving import run_server

    if not run_server(app, settings, listener):
        raise typer.Exit(3)  # as uvicorn.run: the server could not start


@app.command(cls=Command)
@_unwrapped
def worker() -> None:
    """Run a Celery worker that processes edits (CELERY_CONCURRENCY processes).

    It takes edits from CELERY_BROKER_URL and needs the API's DATABASE_URL and storage (S3_*).
    """
    settings = _settings(distributed=True)
    from mizual.logs import LOG_FORMAT, configure_logging

    configure_logging(settings)
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


@app.command(cls=Command)
@_unwrapped
def migrate() -> None:
    """Create or upgrade the database schema to the latest version.

    The database is DATABASE_URL (in DATABASE_SCHEMA); unset, the SQLite file in DATA_DIR that
    `mizual serve` uses.
    """
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


def _server_address(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    from mizual.client import InvalidServer, server_url

    try:
        return server_url(value)
    except InvalidServer as exc:
        source = ctx.get_parameter_source(param.name or "server")
        given = (
            "MIZUAL_SERVER" if source is not None and source.name == "ENVIRONMENT" else "--server"
        )
        typer.echo(f"mizual: {given}: {exc}", err=True)
        raise typer.Exit(2) from None


ServerOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="MIZUAL_SERVER",
        metavar="URL",
        callback=_server_address,
        help="The Mizual server's address: HOST:PORT or http(s)://HOST:PORT",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", metavar="", help="Print the server's JSON as it is")
]
_WAIT_MINUTES = round(MAX_RATE_LIMIT_WAIT_SECONDS / 60)
NoWaitOption = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        metavar="",
        help="When rate limited (429), fail at once with the server's message instead of "
        f"waiting and trying again (for at most {_WAIT_MINUTES} minutes in all)",
    ),
]


@app.command(
    cls=Command,
    help=_help(f"""Edit a photo on a running Mizual server, follow its progress, save the result.

`mizual edit PHOTO "PROMPT"` uploads PHOTO and saves the result beside it as PHOTO.edited.jpg
(.png when the result is a PNG), or as --output.

`mizual edit "PROMPT" --parent UUID` continues a chain: it edits the result of edit UUID, as
the web page's "edit further" does, and saves the result as <new edit id>.jpg in the current
folder. Given a PHOTO too, it is the parent's result that is edited all the same (PHOTO is not
uploaded, and a line says so); the result is then saved as PHOTO.edited.jpg.

When the server says too many requests (429), mizual waits as long as its Retry-After asks and
tries again, for at most {_WAIT_MINUTES} minutes in all; a longer wait (a daily limit) fails at
once with the server's message, as does any 429 with --no-wait."""),
)
def edit(
    first: Annotated[
        str | None,
        typer.Argument(
            metavar="PHOTO",
            help="The photo to edit (JPEG, PNG, WebP, BMP, TIFF); not needed with --parent",
            show_default=False,
        ),
    ] = None,
    second: Annotated[
        str | None,
        typer.Argument(
            metavar="PROMPT",
            help='What to change, e.g. "make it black and white"',
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to save the result (default: PHOTO.edited.jpg, or <edit id>.jpg with "
            "--parent alone; .png when the result is a PNG)",
            show_default=False,
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    parent: Annotated[
        str | None,
        typer.Option(
            "--parent",
            metavar="UUID",
            help="A completed edit whose result this one edits (the next step of its chain)",
            show_default=False,
        ),
    ] = None,
    no_wait: NoWaitOption = False,
) -> None:
    from mizual.client import ClientError, default_output, read_photo

    photo, prompt = _photo_and_prompt(first, second, parent=parent)
    with _client_errors(), _client(server, no_wait=no_wait) as client:
        # A chain step continues from the parent's result, whatever PHOTO is.
        image = read_photo(photo) if parent is None and photo is not None else None
        edit_id = client.submit(image, prompt, parent=parent)
        try:
            view = _follow(client, edit_id, parent=parent, photo=photo)
        except KeyboardInterrupt:
            typer.echo(f"mizual: stopped following; see: mizual status {edit_id}", err=True)
            raise typer.Exit(130) from None
        if view.get("is_error"):  # whatever is_complete says: a failed edit is complete too
            raise ClientError(f"the edit failed: {view.get('message')}")
        url = view.get("edited_image_url")
        if not isinstance(url, str):
            raise ClientError(f"edit {edit_id} finished without a result")
        data, content_type = client.download(url)
        target = output or default_output(
            photo, edit_id=edit_id, content_type=content_type, url=url
        )
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise ClientError(f"{target}: cannot be written ({exc.strerror or exc})") from None
        typer.echo(f"Saved {target} (edit {edit_id})")


def _photo_and_prompt(
    first: str | None, second: str | None, *, parent: str | None
) -> tuple[Path | None, str]:
    """PHOTO PROMPT, or PROMPT alone with --parent."""
    if first is not None and second is not None:
        return Path(first), second
    if first is not None and parent is not None:
        return None, first
    typer.echo(
        'mizual: edit needs PHOTO and PROMPT, e.g. mizual edit photo.jpg "make it black and '
        'white"; or PROMPT alone with --parent UUID, to edit the result of edit UUID',
        err=True,
    )
    raise typer.Exit(2)


def _follow(
    client: MizualClient, edit_id: str, *, parent: str | None, photo: Path | None
) -> dict[str, Any]:
    """The edit's progress until it completes or fails; its last status."""
    from mizual.clientview import Progress

    updates = client.follow(edit_id)
    view: dict[str, Any] = next(updates, {})
    if parent is not None:
        # Said before the progress bar starts, which would draw over it.
        position = view.get("chain_position")
        step = f" (step {position} of its chain)" if isinstance(position, int) else ""
        unused = f"; {photo} is not uploaded" if photo is not None else ""
        typer.echo(f"Editing the result of edit {parent}{step}{unused}")
    with Progress(edit_id) as progress:
        progress.show(view)
        for view in updates:
            progress.show(view)
    return view


@app.command(cls=Command)
def status(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="The edit's id")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Show an edit's status, stage timings and result."""
    from mizual.clientview import describe_status

    with _client_errors(), _client(server, no_wait=no_wait) as client:
        view = client.status(edit_id)
    typer.echo(json.dumps(view, indent=2) if as_json else describe_status(view))


@app.command(cls=Command)
def chain(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="Any edit of the chain")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Show every edit of the chain through an edit, first to last."""
    from mizual.clientview import describe_chain

    with _client_errors(), _client(server, no_wait=no_wait) as client:
        body = client.chain(edit_id)
    typer.echo(json.dumps(body, indent=2) if as_json else describe_chain(body))


def _client(server: str, *, no_wait: bool) -> MizualClient:
    from mizual.client import MizualClient

    return MizualClient(server, wait_when_limited=not no_wait)


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """A client's failure is one line on stderr and exit status 1, never a traceback."""
    from mizual.client import ClientError

    try:
        yield
    except ClientError as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(1) from None


providers_app = typer.Typer(cls=Group, help="The AI services Mizual is configured to use.")
app.add_typer(providers_app, name="providers")


@providers_app.command("check", cls=Command)
@_unwrapped
def providers_check() -> None:
    """Make one cheap call to each configured AI service and say whether it works.

    The services are those EDIT_PROVIDER (FLUX with BFL_API_KEY, or the offline editor) and
    LLM_PROVIDER (with LLM_API_KEY, or GEMINI_API_KEY, for prompt enhancement) select.
    """
    from mizual.providers.check import check_providers

    lines, healthy = check_providers(_settings(distributed=False))
    for line in lines:
        typer.echo(line)
    if not healthy:
        raise typer.Exit(1)


def main() -> None:
    app()
