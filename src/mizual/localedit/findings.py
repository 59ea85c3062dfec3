"""What an operation found in the photo, told to the person: "2 faces found" in the plan shown
with the status, or why nothing was done.

Nothing here imports NumPy, OpenCV or pyvips: the editor's caller catches these errors without
loading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class RegionNotFound(Exception):
    """The part of the photo a step applies to is not in it ("No faces were found in this
    photo, so nothing was blurred."); str is for people."""


class NothingToChange(Exception):
    """What a step would change is not in the photo ("This photo has no colour, so there is no
    colour cast to remove."); str is for people."""


class SeeingUnavailable(Exception):
    """This installation cannot see what a step needs; str names what is missing."""


_NOTES: ContextVar[list[str] | None] = ContextVar("mizual_localedit_notes", default=None)


def note(text: str) -> None:
    """Tells the person what the running step found; dropped outside `noting()`."""
    notes = _NOTES.get()
    if notes is not None:
        notes.append(text)


@contextmanager
def noting() -> Iterator[list[str]]:
    """The notes of the steps run inside, in order."""
    notes: list[str] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)
