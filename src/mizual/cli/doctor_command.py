"""`mizual doctor`: a deployment's services checked with the settings its processes read, a line
per check, exit status 1 when any fails (the checks themselves: `mizual.ops.doctor`)."""

from __future__ import annotations

from typing import Annotated

import typer

from mizual.cli.client import InvalidServer, server_url
from mizual.cli.configuration import read_settings, serve_settings
from mizual.cli.help import Command, Group, unwrapped

# Holds the command until `mizual.cli.commands` adds it to `mizual`.
doctor_commands = typer.Typer(cls=Group)


def _api_address(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return server_url(value)
    except InvalidServer as exc:
        typer.echo(f"mizual: --api: {exc}", err=True)
        raise typer.Exit(2) from None


ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        metavar="URL",
        callback=_api_address,
        help="A running API (HOST:PORT or http(s)://HOST:PORT, e.g. through the proxy): its "
        "/health must answer 200 and its /version this installation's version",
        show_default=False,
    ),
]


@doctor_commands.command(cls=Command)
@unwrapped
def doctor(api: ApiOption = None) -> None:
    """Check a deployment: database, migrations, broker, workers, storage, AI providers, version.

    It reads the settings the processes read (docs/configuration.md): with DATABASE_URL naming
    PostgreSQL, those of `mizual api` and `mizual worker` (CELERY_BROKER_URL, S3_*); otherwise
    those of `mizual serve` (SQLite and images in DATA_DIR). One line per check; exit status 0
    when none fails, 1 when one does (the line says what to do). Each check gives up after a
    few seconds. Secrets are never printed.
    """
    from mizual.logs import redact_in_logs, secret_values
    from mizual.ops.doctor import is_distributed, run_doctor

    settings = read_settings()
    if is_distributed(settings):
        settings = read_settings(distributed=True)
    else:
        settings = serve_settings(host=None, port=None)
    # A library's warning on stderr never carries a secret either.
    redact_in_logs(secret_values(settings))
    report = run_doctor(settings, api_url=api)
    for line in report.lines():
        typer.echo(line)
    if not report.healthy:
        raise typer.Exit(1)
