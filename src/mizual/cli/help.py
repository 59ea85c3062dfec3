"""How the commands' help reads: no column of Python types, and paragraphs left for Rich to wrap."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


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


def help_text(text: str) -> str:
    """Rich keeps every newline of a help text: a paragraph's lines are joined here, for Rich to
    wrap to the terminal's width."""
    return "\n\n".join(" ".join(part.split()) for part in inspect.cleandoc(text).split("\n\n"))


_Command = TypeVar("_Command", bound=Callable[..., Any])


def unwrapped(command: _Command) -> _Command:
    """The command's docstring as its help, its paragraphs unwrapped (see help_text)."""
    command.__doc__ = help_text(command.__doc__ or "")
    return command
