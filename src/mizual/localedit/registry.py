"""Each operation of the offline editor is declared once, by a decorator on its implementation.

`@operation(...)` on a function says what the operation does (shown to people and to the LLM
that reads prompts), the types and ranges of its parameters, whether it reads the photo in one
pass, and whether asking for it twice in a row means once. Its name is the function's, and each
parameter's default the one in the function's signature. The tables the rest of the
editor uses are derived from these declarations: `operations.CATALOGUE` (re-exported by
`plan`), `operations.OPERATIONS` and `RANDOM_ACCESS`, and the parser's `_ONCE`.

Nothing here or in the declaring modules imports pyvips, NumPy or OpenCV at import time: the
catalogue is read by processes that never edit a photo.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, TypeVar

Implementation = TypeVar("Implementation", bound=Callable[..., Any])


class InvalidPlan(Exception):
    """A step names an unknown operation or a parameter outside its range."""


@dataclass(frozen=True)
class Param:
    kind: str  # "float", "int" or "choice"
    default: float | int | str | None = None  # None: the parameter is required
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # may be absent (None) with no default
    meaning: str = ""


def number(between: tuple[float, float], meaning: str = "", *, whole: bool = False) -> Param:
    """A number in the closed range `between`, an int if `whole`; its default is the one the
    implementation's signature gives."""
    minimum, maximum = between
    return Param("int" if whole else "float", minimum=minimum, maximum=maximum, meaning=meaning)


def choice(*choices: str) -> Param:
    return Param("choice", choices=choices)


@dataclass(frozen=True, kw_only=True)
class Operation:
    name: str
    summary: str
    params: dict[str, Param] = field(default_factory=dict)
    run: Callable[..., Any]  # the photo and the checked parameters in, the edited photo out
    # Needs a subject mask (whole-image work on a downscaled copy) rather than a pure pipeline.
    subject_aware: bool = False
    # Reads the photo once, top to bottom, so it can be decoded in strips. A measurement before
    # the edit, reading out of order (turns, flips) or finding the subject needs it whole.
    streams: bool = True
    # Asked twice in a row, it means one step whatever the words: a second would only overdo it.
    once: bool = False
    # What the parameters' ranges alone cannot say, such as which of them go together.
    check: Callable[[dict[str, Any]], None] | None = None


_DECLARED: list[Operation] = []


def operation(
    summary: str,
    *,
    params: dict[str, Param] | None = None,
    subject_aware: bool = False,
    streams: bool = True,
    once: bool = False,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[Implementation], Implementation]:
    """Declares the decorated function as the operation of its name. Each of `params` is one of
    its keyword-only parameters: a parameter with a default in the signature may be left out of
    a step (None: it stays absent), one without must be given. A subject-aware operation never
    streams: the subject is found on the whole photo."""

    def declare(run: Implementation) -> Implementation:
        _DECLARED.append(
            Operation(
                name=run.__name__,
                summary=summary,
                params=_with_defaults(run, params or {}),
                run=run,
                subject_aware=subject_aware,
                streams=streams and not subject_aware,
                once=once,
                check=check,
            )
        )
        return run

    return declare


def _with_defaults(run: Callable[..., Any], params: dict[str, Param]) -> dict[str, Param]:
    signature = inspect.signature(run).parameters
    keywords = {
        name: parameter
        for name, parameter in signature.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    if set(keywords) != set(params):
        raise TypeError(f"{run.__name__} declares {sorted(params)} but takes {sorted(keywords)}")
    found: dict[str, Param] = {}
    for name, param in params.items():
        default = keywords[name].default
        if default is inspect.Parameter.empty:
            found[name] = param
        elif default is None:
            found[name] = replace(param, optional=True)
        else:
            found[name] = replace(param, default=default)
    return found


def catalogue(*groups: ModuleType) -> dict[str, Operation]:
    """The operations the modules `groups` declare: group by group, each in its own order."""
    found: dict[str, Operation] = {}
    for group in groups:
        for declared in _DECLARED:
            if declared.run.__module__ == group.__name__:
                if declared.name in found:
                    raise ValueError(f"operation {declared.name!r} is declared twice")
                found[declared.name] = declared
    strays = [declared.name for declared in _DECLARED if declared.name not in found]
    if strays:
        raise ValueError(f"operations declared outside the groups: {', '.join(strays)}")
    return found
