"""The image operations an edit plan names, as streaming pyvips pipelines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyvips

from mizual.localedit.plan import EditPlan


def _split_alpha(image: pyvips.Image) -> tuple[pyvips.Image, pyvips.Image | None]:
    if image.hasalpha():
        return image.extract_band(0, n=image.bands - 1), image.extract_band(image.bands - 1)
    return image, None


def _join_alpha(colour: pyvips.Image, alpha: pyvips.Image | None) -> pyvips.Image:
    return colour if alpha is None else colour.bandjoin(alpha)


def _on_colour(image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]) -> pyvips.Image:
    colour, alpha = _split_alpha(image)
    interpretation = colour.interpretation
    changed = change(colour).cast("uchar").copy(interpretation=interpretation)
    return _join_alpha(changed, alpha)


def grayscale(image: pyvips.Image) -> pyvips.Image:
    colour, alpha = _split_alpha(image)
    if colour.interpretation != "b-w":
        colour = colour.colourspace("b-w")
    return _join_alpha(colour, alpha)


def brightness(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    return _on_colour(image, lambda colour: colour.linear(1 + amount, 0))


def contrast(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    factor = 1 + amount
    return _on_colour(image, lambda colour: colour.linear(factor, 128 * (1 - factor)))


def blur(image: pyvips.Image, *, sigma: float) -> pyvips.Image:
    return _on_colour(image, lambda colour: colour.gaussblur(sigma))


def rotate(image: pyvips.Image, *, degrees: float) -> pyvips.Image:
    degrees %= 360
    lossless = {
        0: lambda im: im,
        90: pyvips.Image.rot90,
        180: pyvips.Image.rot180,
        270: pyvips.Image.rot270,
    }
    if degrees in lossless:
        return lossless[int(degrees)](image)
    # Other angles leave empty corners: make them transparent rather than invent pixels.
    if not image.hasalpha():
        image = image.bandjoin(255)
    return image.rotate(degrees, background=[0] * image.bands)


def flip(image: pyvips.Image, *, direction: str) -> pyvips.Image:
    return image.flip(direction)


OPERATIONS: dict[str, Callable[..., pyvips.Image]] = {
    "grayscale": grayscale,
    "brightness": brightness,
    "contrast": contrast,
    "blur": blur,
    "rotate": rotate,
    "flip": flip,
}


def apply_plan(image: pyvips.Image, plan: EditPlan) -> pyvips.Image:
    for step in plan.steps:
        params: dict[str, Any] = step.params
        image = OPERATIONS[step.operation](image, **params)
    return image
