"""The `mizual` command: serve (embedded), api and worker (distributed), migrate; and edit,
status and chain, a client of a running server.

The parts: `commands` (the `mizual` group), `server_commands` and `client_commands` (its
subcommands), `configuration` (the settings a command runs with), `help` (how help reads),
`client` (requests to a running server), `rendering` (what the client commands print).
"""

from mizual.cli.commands import app, main
from mizual.cli.configuration import serve_settings

__all__ = ["app", "main", "serve_settings"]
