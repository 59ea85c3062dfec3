"""The `mizual` command: its --version, and its subcommands in the order its help lists them."""

from __future__ import annotations

from typing import Annotated

import typer

from mizual.cli.client_commands import client_commands
from mizual.cli.doctor_command import doctor_commands
from mizual.cli.help import Group
from mizual.cli.purge_command import purge_commands
from mizual.cli.server_commands import providers, server_commands

app = typer.Typer(
    cls=Group, help="Mizual: AI image editing with natural-language prompts.", no_args_is_help=True
)
app.registered_commands += [
    *server_commands.registered_commands,
    *doctor_commands.registered_commands,
    *purge_commands.registered_commands,
    *client_commands.registered_commands,
]
app.add_typer(providers, name="providers")


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


def main() -> None:
    app()
