"""The faces of a photo, blurred or pixelated so that nobody can be recognised by them.

The faces are found (`seeing.py`) on a copy at most FACE_WORKING_SIDE pixels on its longer
side; each is then changed at full resolution inside a feathered ellipse that covers the
face with its forehead, hair and chin, and the rest of the photo is left as it was. A photo in
which no face is found fails the edit with a message saying so: an unchanged photo is never
reported as done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mizual.localedit.findings import NothingToChange, RegionNotFound, note
from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips

    from mizual.localedit.seeing import Face

# Faces down to about a twentieth of the longer side are found at this size; bigger copies
# cost detection time and find no more.
FACE_WORKING_SIDE = 1024
# The detector's box runs from the eyebrows to the mouth: the ellipse covers more of the head,
# above all upwards (forehead and hair identify a person as well).
GROW_ACROSS = 1.5
GROW_DOWN = 1.9
RAISE = 0.15  # the ellipse's centre is this share of the face's height above the box's
FEATHER_SHARE = 0.08  # the ellipse's soft edge, as a share of its smaller axis
# Defaults that make a face unrecognisable whatever its size.
BLUR_SHARE = 1 / 6  # Gaussian sigma as a share of the face's width
BLOCKS_ACROSS = 7  # pixelation squares across a face
MASK_SIDE = 256  # the ellipse is drawn at most this size, then enlarged
# Red eye: the disc searched around each eye, as a share of the face's width (an iris is about
# a tenth of it), and what makes a pixel a flash-lit pupil's: red at least this many times the
# green and the blue, this bright, and red rather than orange (a brown iris, such as (61, 37,
# 13), has red 1.7 times its green, but far more green than blue).
EYE_SHARE = 0.09
RED_OVER_GREEN_AND_BLUE = 2.0
RED_AT_LEAST = 60
GREEN_OVER_BLUE_AT_MOST = 1.6
WIDE_SIGMA = 6.0  # a blur wider than this is made on a reduced copy


def _found(colour: pyvips.Image) -> list[Face]:
    from mizual.localedit.operations.pixels import rgb_array
    from mizual.localedit.seeing import seeing

    pixels, scale = rgb_array(colour, longest=FACE_WORKING_SIDE)
    return [face.scaled(1 / scale) for face in seeing().faces(pixels)]


@dataclass(frozen=True)
class _Cover:
    """The ellipse over one face, and the box of the photo it lies in (cut by the photo's
    edges): `centre` is in the box's coordinates."""

    left: int
    top: int
    width: int
    height: int
    centre: tuple[float, float]
    axes: tuple[float, float]  # half the ellipse's width and height


def _cover(face: Face, *, width: int, height: int) -> _Cover:
    half_across, half_down = face.width * GROW_ACROSS / 2, face.height * GROW_DOWN / 2
    centre_x = face.x + face.width / 2
    centre_y = face.y + face.height / 2 - RAISE * face.height
    left = max(0, math.floor(centre_x - half_across))
    top = max(0, math.floor(centre_y - half_down))
    right = min(width, math.ceil(centre_x + half_across))
    bottom = min(height, math.ceil(centre_y + half_down))
    return _Cover(
        left=left,
        top=top,
        width=max(1, right - left),
        height=max(1, bottom - top),
        centre=(centre_x - left, centre_y - top),
        axes=(half_across, half_down),
    )


def _mask(cover: _Cover) -> pyvips.Image:
    """8-bit, the box's size: 255 inside the ellipse, fading to 0 at its edge. Drawn and
    feathered at most MASK_SIDE pixels across, then enlarged: a soft edge is smooth at any size,
    and feathering a 50 MP face's box at full size would take seconds."""
    import cv2
    import numpy as np
    import pyvips

    from mizual.localedit.operations.pixels import resize_exactly

    scale = min(1.0, MASK_SIDE / max(cover.width, cover.height))
    width, height = max(1, round(cover.width * scale)), max(1, round(cover.height * scale))
    feather = max(1.0, FEATHER_SHARE * 2 * min(cover.axes) * scale)
    mask = np.zeros((height, width), np.float32)
    centre = (round(cover.centre[0] * scale), round(cover.centre[1] * scale))
    axes = tuple(max(1, round(axis * scale - feather)) for axis in cover.axes)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255.0, thickness=-1)
    soft = cv2.GaussianBlur(mask, (0, 0), feather / 2)
    small = pyvips.Image.new_from_array(np.rint(soft).astype(np.uint8))
    whole = resize_exactly(small, width=cover.width, height=cover.height, kernel="linear")
    return whole.copy(interpretation="b-w")


def _blurred(patch: pyvips.Image, sigma: float) -> pyvips.Image:
    """`patch` under a Gaussian blur of `sigma`; a wide one on a reduced copy, enlarged again
    (what a blur that wide removes, a reduction loses anyway, and it is many times faster)."""
    from mizual.localedit.operations.pixels import resize_exactly

    if sigma <= WIDE_SIGMA:
        return patch.gaussblur(sigma)
    factor = sigma / WIDE_SIGMA
    small = patch.resize(1 / factor)
    return resize_exactly(
        small.gaussblur(WIDE_SIGMA), width=patch.width, height=patch.height, kernel="linear"
    )


def _seen(colour: pyvips.Image, *, done: str) -> list[Face]:
    """The faces of the photo, told to the person ("2 faces found"); RegionNotFound saying
    what was not `done` if there are none."""
    faces = _found(colour)
    if not faces:
        raise RegionNotFound(f"No faces were found in this photo, so nothing was {done}.")
    note(f"{len(faces)} face{'' if len(faces) == 1 else 's'} found")
    return faces


def faces_mask(colour: pyvips.Image) -> pyvips.Image:
    """The faces as one 8-bit mask of the photo's size (the part "faces" of a step such as
    "brighten her face"): each face's feathered ellipse, 0 elsewhere."""
    import pyvips

    mask = pyvips.Image.black(colour.width, colour.height)
    for face in _seen(colour, done="changed"):
        cover = _cover(face, width=colour.width, height=colour.height)
        ellipse = _mask(cover)
        under = mask.crop(cover.left, cover.top, cover.width, cover.height)
        mask = mask.insert((under > ellipse).ifthenelse(under, ellipse), cover.left, cover.top)
    return mask.copy(interpretation="b-w")


def _faces_changed(
    image: pyvips.Image, *, change: Callable[[pyvips.Image, Face], pyvips.Image], done: str
) -> pyvips.Image:
    from mizual.localedit.operations.pixels import on_colour

    def edit(colour: pyvips.Image) -> pyvips.Image:
        for face in _seen(colour, done=done):
            cover = _cover(face, width=colour.width, height=colour.height)
            patch = colour.crop(cover.left, cover.top, cover.width, cover.height)
            blended = _mask(cover).ifthenelse(change(patch, face), patch, blend=True)
            colour = colour.insert(blended.cast(colour.format), cover.left, cover.top)
        return colour

    return on_colour(image, edit)


@operation(
    "blur every face found in the photo (privacy); fails if none is found",
    params={
        "sigma": number(
            (1.0, 200.0), "Gaussian radius in pixels at full size; default: a sixth of each face"
        )
    },
    streams=False,
)
def blur_faces(image: pyvips.Image, *, sigma: float | None = None) -> pyvips.Image:
    def blurred(patch: pyvips.Image, face: Face) -> pyvips.Image:
        return _blurred(patch, sigma or max(2.0, face.width * BLUR_SHARE))

    return _faces_changed(image, change=blurred, done="blurred")


@operation(
    "pixelate every face found in the photo (privacy); fails if none is found",
    params={
        "block": number(
            (2, 512),
            "square size in pixels at full size; default: 7 squares across a face",
            whole=True,
        )
    },
    streams=False,
)
def pixelate_faces(image: pyvips.Image, *, block: int | None = None) -> pyvips.Image:
    from mizual.localedit.operations.effects import pixelate

    def squares(patch: pyvips.Image, face: Face) -> pyvips.Image:
        return pixelate(patch, block=block or max(2, round(face.width / BLOCKS_ACROSS)))

    return _faces_changed(image, change=squares, done="pixelated")


@operation(
    "remove red eye (the red of flash-lit pupils) in the faces found; fails if no eye is red",
    streams=False,
    once=True,
)
def red_eye(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations.pixels import on_colour

    def edit(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            raise NothingToChange("This photo has no colour, so no eye in it is red.")
        red = 0
        for face in _seen(colour, done="changed"):
            for eye in face.eyes:
                colour, changed = _without_red(colour, eye, radius=EYE_SHARE * face.width)
                red += changed
        if not red:
            raise NothingToChange("No red eyes were found in this photo, so nothing was changed.")
        note(f"{red} red eye{'' if red == 1 else 's'} found")
        return colour

    return on_colour(image, edit)


def _without_red(
    colour: pyvips.Image, eye: tuple[float, float], *, radius: float
) -> tuple[pyvips.Image, bool]:
    """The photo with the red pupil around `eye` made dark (its red brought to the mean of its
    green and blue, as an unlit pupil is), and whether there was one."""
    import cv2
    import numpy as np
    import pyvips

    reach = max(3, math.ceil(radius))
    left, top = max(0, round(eye[0]) - reach), max(0, round(eye[1]) - reach)
    right = min(colour.width, round(eye[0]) + reach + 1)
    bottom = min(colour.height, round(eye[1]) + reach + 1)
    if right <= left or bottom <= top:
        return colour, False
    patch = np.asarray(colour.crop(left, top, right - left, bottom - top).numpy(), np.float32)
    rows, columns = np.mgrid[top:bottom, left:right]
    inside = (columns - eye[0]) ** 2 + (rows - eye[1]) ** 2 <= max(radius, 3.0) ** 2
    r, g, b = patch[..., 0], patch[..., 1], patch[..., 2]
    pupil = (
        inside
        & (r > RED_AT_LEAST)
        & (r > RED_OVER_GREEN_AND_BLUE * np.maximum(g, b))
        & (g < GREEN_OVER_BLUE_AT_MOST * b + 10)
    )
    if not pupil.any():
        return colour, False
    weight = cv2.GaussianBlur(pupil.astype(np.float32), (0, 0), 0.8)
    weight = np.maximum(weight, pupil.astype(np.float32))
    fixed = patch.copy()
    fixed[..., 0] = r * (1 - weight) + (g + b) / 2 * weight
    changed = pyvips.Image.new_from_array(np.rint(fixed).astype(np.uint8))
    changed = changed.copy(interpretation=colour.interpretation)
    return colour.insert(changed.cast(colour.format), left, top), True
