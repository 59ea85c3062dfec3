"""Cancelling an edit: `mizual cancel`, and the question a Ctrl-C during `mizual edit` asks."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from mizual.cli.client import ClientError, MizualClient, Submission
from mizual.cli.edit_tokens import known_token, remember_token

# What a shell reports for a command stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED_EXIT_STATUS = 130


def keep_token(*, server: str, submission: Submission) -> None:
    """Kept for `mizual cancel`; failing to keep it is a warning, never a failed edit."""
    if submission.edit_token is None:
        return
    try:
        remember_token(server=server, edit_id=submission.edit_id, token=submission.edit_token)
    except OSError as exc:
        typer.echo(
            f"mizual: warning: the edit's token could not be kept ({exc.strerror or exc}); "
            f"to cancel it: mizual cancel {submission.edit_id} --token {submission.edit_token}",
            err=True,
        )


def token_for(*, server: str, edit_id: str, given: str | None) -> str:
    """`--token` when given, else the one `mizual edit` kept for this edit on this server."""
    token = given or known_token(server=server, edit_id=edit_id)
    if token is None:
        raise ClientError(
            f"no token is known for edit {edit_id} on {server} (it was not submitted by "
            "`mizual edit` here); pass --token TOKEN: the edit_token in the submission's answer"
        )
    return token


def after_interrupt(*, server: str, no_wait: bool, submission: Submission) -> NoReturn:
    """Ctrl-C while the edit is unfinished: on a terminal, offer to cancel it on the server
    too; either way, exit as an interrupted command does."""
    edit_id = submission.edit_id
    askable = submission.edit_token is not None and sys.stdin.isatty()
    if askable and _confirmed(f"Cancel edit {edit_id} on the server too? [y/N] "):
        _cancel_now(server=server, no_wait=no_wait, submission=submission)
        raise typer.Exit(INTERRUPTED_EXIT_STATUS)
    typer.echo(
        f"mizual: stopped following edit {edit_id}; it goes on on the server. "
        f"Follow it: mizual status {edit_id}; cancel it: mizual cancel {edit_id}",
        err=True,
    )
    raise typer.Exit(INTERRUPTED_EXIT_STATUS)


def _confirmed(question: str) -> bool:
    """A `y` (or `yes`) answer; anything else, an end of input or a second Ctrl-C is a no."""
    # On stderr, as the progress was: stdout may be a file the person keeps.
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return False
    return answer.strip().lower() in ("y", "yes")


def _cancel_now(*, server: str, no_wait: bool, submission: Submission) -> None:
    from mizual.cli.rendering import describe_status

    assert submission.edit_token is not None
    # A client of its own: the interrupted one may have been stopped in mid-request.
    try:
        with MizualClient(server, wait_when_limited=not no_wait) as client:
            view = client.cancel(submission.edit_id, token=submission.edit_token)
    except ClientError as exc:
        typer.echo(f"mizual: {exc}", err=True)
        typer.echo(f"mizual: see: mizual status {submission.edit_id}", err=True)
        return
    typer.echo(describe_status(view))
