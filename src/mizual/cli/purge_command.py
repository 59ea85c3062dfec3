"""`mizual purge --older-than 7d`: the images of old edits removed once, by hand, as the
retention sweep (IMAGE_RETENTION_HOURS) removes them: against the configured database and
storage directly, like `mizual migrate`, not over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from mizual.cli.configuration import read_settings, serve_settings
from mizual.cli.help import Command, Group, unwrapped

# Holds the command until `mizual.cli.commands` adds it to `mizual`.
purge_commands = typer.Typer(cls=Group)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `36h`, `7d` (a number and a unit; decimals allowed: `1.5h`)."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise typer.BadParameter(
            f"{text!r} is not an age: give a number and a unit, s, m, h or d (e.g. 7d, 36h)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


OlderThanOption = Annotated[
    str,
    typer.Option(
        "--older-than",
        metavar="AGE",
        help="Remove the images of edits made longer ago than this: a number and a unit, "
        "s, m, h or d (e.g. 7d, 36h, 90m)",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Only count what would be removed; remove nothing."),
]


@purge_commands.command(cls=Command)
@unwrapped
def purge(older_than: OlderThanOption, dry_run: DryRunOption = False) -> None:
    """Remove the images (original and result) of finished edits older than AGE.

    Their edits then answer status "expired" (their prompts and timings are kept), as the
    retention sweep of IMAGE_RETENTION_HOURS leaves them. An edit still pending or processing
    is left alone. It runs against the configured database and storage (DATABASE_URL and S3_*;
    unset, the SQLite file and images in DATA_DIR that `mizual serve` uses), while the servers
    run or not. A chained edit's original is its parent's result: it goes with the parent's.
    """
    from mizual.logs import configure_logging
    from mizual.runtime import Role, build_runtime

    age = parse_age(older_than)
    settings = read_settings()
    if settings.database_url is None:
        settings = serve_settings(host=None, port=None)
    else:
        settings = read_settings(distributed=True)
    configure_logging(settings)
    runtime = build_runtime(settings, role=Role.WORKER)
    try:
        expiry = runtime.removal.purge(older_than=age, dry_run=dry_run)
    finally:
        runtime.close()
    if dry_run:
        typer.echo(f"would remove the images of {expiry.edits} edit(s) older than {older_than}")
    else:
        typer.echo(
            f"removed the images of {expiry.edits} edit(s) older than {older_than} "
            f"({expiry.objects} object(s) deleted)"
        )
    if expiry.in_flight:
        typer.echo(
            f"left {expiry.in_flight} edit(s) still pending or processing; run it again once "
            "they have finished"
        )
