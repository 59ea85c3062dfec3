"""Artistic styles: a pencil sketch, a cartoon and a painting, drawn by `drawing.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mizual.localedit.registry import operation

if TYPE_CHECKING:
    import pyvips


def _styled(image: pyvips.Image, style: Callable[[pyvips.Image], pyvips.Image]) -> pyvips.Image:
    """A style may work on a smaller copy; its picture is scaled back to the photo's size."""
    from mizual.localedit.operations.pixels import on_colour, resize_exactly

    return on_colour(
        image,
        lambda colour: resize_exactly(style(colour), width=colour.width, height=colour.height),
    )


@operation("pencil sketch", once=True)
def sketch(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations import drawing

    return _styled(image, drawing.sketch)


@operation("cartoon: flat colours and bold outlines", once=True)
def cartoon(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations import drawing

    return _styled(image, drawing.cartoon)


@operation("painted look: smooth brush-like regions", once=True)
def painting(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations import drawing

    return _styled(image, drawing.painting)
