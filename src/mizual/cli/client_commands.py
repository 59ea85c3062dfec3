"""The commands that are a client of a running server: edit, status, cancel and chain."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from mizual.cli import cancelling
from mizual.cli.client import (
    DEFAULT_SERVER,
    MAX_RATE_LIMIT_WAIT_SECONDS,
    ClientError,
    InvalidServer,
    MizualClient,
    default_output,
    read_photo,
    server_url,
)
from mizual.cli.help import Command, Group, help_text

# Holds the commands until `mizual.cli.commands` adds them to `mizual`, in this order.
client_commands = typer.Typer(cls=Group)


def _server_address(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
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


_EDIT_HELP = help_text(
    f"""Edit a photo on a running Mizual server, follow its progress, save the result.

`mizual edit PHOTO "PROMPT"` uploads PHOTO and saves the result beside it as PHOTO.edited.jpg
(.png when the result is a PNG), or as --output.

`mizual edit "PROMPT" --parent UUID` continues a chain: it edits the result of edit UUID, as
the web page's "edit further" does, and saves the result as <new edit id>.jpg in the current
folder. Given a PHOTO too, it is the parent's result that is edited all the same (PHOTO is not
uploaded, and a line says so); the result is then saved as PHOTO.edited.jpg.

When the server says too many requests (429), mizual waits as long as its Retry-After asks and
tries again, for at most {_WAIT_MINUTES} minutes in all; a longer wait (a daily limit) fails at
once with the server's message, as does any 429 with --no-wait.

Ctrl-C while the edit is unfinished asks whether to cancel it on the server too (y cancels it;
anything else, or a second Ctrl-C, leaves it running); when input is not a terminal it is left
running without a question. Either way mizual says how to follow it (`mizual status UUID`) or
cancel it later (`mizual cancel UUID`), and exits with status 130."""
)


@client_commands.command(cls=Command, help=_EDIT_HELP)
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
            "--parent alone; .png, .webp or .avif when the result is one)",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="The result's format: jpeg (the server's default), png, webp or avif",
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
    photo, prompt = _photo_and_prompt(first, second, parent=parent)
    with _client_errors(), _client(server, no_wait=no_wait) as client:
        # A chain step continues from the parent's result, whatever PHOTO is.
        image = read_photo(photo) if parent is None and photo is not None else None
        submission = client.submit(
            image,
            prompt,
            parent=parent,
            filename=photo.name if photo is not None else "photo",
            output_format=output_format.lower() if output_format else None,
        )
        edit_id = submission.edit_id
        cancelling.keep_token(server=server, submission=submission)
        try:
            view = _follow(client, edit_id, parent=parent, photo=photo)
        except KeyboardInterrupt:
            cancelling.after_interrupt(server=server, no_wait=no_wait, submission=submission)
        if view.get("is_error"):  # whatever is_complete says: a failed edit is complete too
            raise ClientError(f"the edit failed: {view.get('message')}")
        if view.get("status") == "cancelled":  # from elsewhere: the web page, another terminal
            raise ClientError(f"edit {edit_id} was cancelled: {view.get('message')}")
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
    from mizual.cli.rendering import Progress

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


@client_commands.command(cls=Command)
def status(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="The edit's id")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Show an edit's status, stage timings and result."""
    from mizual.cli.rendering import describe_status

    with _client_errors(), _client(server, no_wait=no_wait) as client:
        view = client.status(edit_id)
    typer.echo(json.dumps(view, indent=2) if as_json else describe_status(view))


_CANCEL_HELP = help_text(
    """Cancel an edit that is pending or processing, and show how it ended.

A pending edit never starts; a processing one stops at its next stage, and no result is kept.
An edit that has finished already cannot be cancelled: that refusal, as any other, is one line
with the server's reason, and exit status 1.

Only the edit's submitter may cancel it, with the edit_token its submission answered, or the
server's ADMIN_TOKEN. `mizual edit` keeps the token of each edit it submits (it prints it only
when it cannot keep it), for the last 1000 edits, with the server's address, in edit-tokens.json in
$XDG_STATE_HOME/mizual (~/.local/state/mizual; $MIZUAL_STATE_DIR instead, if set), readable by
you alone: for those, UUID is enough. For an edit submitted another way (the web page, curl,
another account or machine), pass its edit_token with --token."""
)


@client_commands.command(cls=Command, help=_CANCEL_HELP)
def cancel(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="The edit's id")],
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="The edit's edit_token, or the server's ADMIN_TOKEN (default: the token "
            "`mizual edit` kept for this edit)",
            show_default=False,
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    from mizual.cli.rendering import describe_status

    with _client_errors(), _client(server, no_wait=no_wait) as client:
        secret = cancelling.token_for(server=server, edit_id=edit_id, given=token)
        view = client.cancel(edit_id, token=secret)
    typer.echo(json.dumps(view, indent=2) if as_json else describe_status(view))


@client_commands.command(cls=Command)
def chain(
    edit_id: Annotated[str, typer.Argument(metavar="UUID", help="Any edit of the chain")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Show every edit of the chain through an edit, first to last."""
    from mizual.cli.rendering import describe_chain

    with _client_errors(), _client(server, no_wait=no_wait) as client:
        body = client.chain(edit_id)
    typer.echo(json.dumps(body, indent=2) if as_json else describe_chain(body))


def _client(server: str, *, no_wait: bool) -> MizualClient:
    return MizualClient(server, wait_when_limited=not no_wait)


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """A client's failure is one line on stderr and exit status 1, never a traceback."""
    try:
        yield
    except ClientError as exc:
        typer.echo(f"mizual: {exc}", err=True)
        raise typer.Exit(1) from None
