"""The subject and the background: the background blurred, darkened, greyed out or removed.

The subject's mask (`subject.py`) is found on a small copy of the whole photo, so these need the
photo decoded whole; the mask is scaled to full size and the edit blended along its feathered
edge at full resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips


def subject_mask(colour: pyvips.Image) -> pyvips.Image:
    """255 on the subject, 0 on the background, at the photo's size (found on a small copy)."""
    from mizual.localedit.operations.pixels import resize_exactly
    from mizual.localedit.subject import subject_mask as small_mask

    return resize_exactly(
        small_mask(colour), width=colour.width, height=colour.height, kernel="linear"
    )


def _background_changed(
    image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    """The photo where the subject is, `change`d photo elsewhere, blended along the feathered
    edge of the subject's mask."""
    from mizual.localedit.operations.pixels import on_colour

    def blend(colour: pyvips.Image) -> pyvips.Image:
        return subject_mask(colour).ifthenelse(colour, change(colour), blend=True)

    return on_colour(image, blend)


@operation(
    "blur everything but the subject",
    params={"sigma": number((1.0, 100.0), "Gaussian radius in pixels at full size")},
    subject_aware=True,
)
def blur_background(image: pyvips.Image, *, sigma: float = 8.0) -> pyvips.Image:
    return _background_changed(image, lambda colour: colour.gaussblur(sigma))


@operation(
    "darken everything but the subject",
    params={"amount": number((0.05, 1.0), "0.5 half as bright, 1 black")},
    subject_aware=True,
)
def darken_background(image: pyvips.Image, *, amount: float = 0.5) -> pyvips.Image:
    from mizual.localedit.operations.pixels import uchar

    return _background_changed(image, lambda colour: uchar(colour * (1 - amount)))


@operation("black and white background, subject in colour", subject_aware=True, once=True)
def desaturate_background(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations.pixels import luma, rgb

    return _background_changed(image, lambda colour: rgb(luma(colour)))


@operation("transparent background (PNG), subject kept", subject_aware=True, once=True)
def remove_background(image: pyvips.Image) -> pyvips.Image:
    """The subject on a transparent background: the mask becomes (or trims) the alpha band."""
    from mizual.localedit.operations.pixels import split_alpha, uchar

    colour, alpha = split_alpha(image)
    mask = subject_mask(colour)
    return colour.bandjoin(mask if alpha is None else uchar(alpha * mask / 255))
