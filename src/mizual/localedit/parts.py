"""The parts of a photo a step can apply to: the faces in it, the people, the sky, the background
(all but the subject), or one half of it.

A step with a part ("darken the top half", "brighten her face") is applied to the whole photo and
blended in through a soft mask of the part, so the change fades out over a few per cent of the
photo instead of stopping at a hard line. Only steps that keep the photo's size and work pixel by
pixel or in a small neighbourhood (light, colour, detail, effects, styles) can take a part: a
crop or a turn of one half has no meaning here.

Nothing here imports pyvips or OpenCV at import time: the parser reads the names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyvips

FACES = "faces"
PEOPLE = "people"
SKY = "sky"
BACKGROUND = "background"  # everything but the subject (the people, or what GrabCut finds)
HALVES = ("top half", "bottom half", "left half", "right half")
PARTS = (FACES, PEOPLE, SKY, BACKGROUND, *HALVES)
# The people are found on a copy this size (the segmentation itself sees 256x256).
PEOPLE_WORKING_SIDE = 1024
# The sky is found on a smaller copy (`sky.SKY_SIDE`); its mask is made at this size, then
# enlarged.
SKY_WORKING_SIDE = 1024
# A half's edge fades over this share of the photo's height (top, bottom) or width (left, right).
HALF_FEATHER_SHARE = 0.08


def part_mask(colour: pyvips.Image, part: str) -> pyvips.Image:
    """An 8-bit mask of `colour`'s size, 255 on `part` and 0 elsewhere, with a soft edge;
    RegionNotFound if the part is not in the photo (no face found)."""
    if part == FACES:
        from mizual.localedit.operations.faces import faces_mask

        return faces_mask(colour)
    if part == PEOPLE:
        return _people(colour)
    if part == SKY:
        return _sky(colour)
    if part == BACKGROUND:
        return _background(colour)
    if part not in HALVES:
        raise ValueError(f"unknown part {part!r}")
    return _half(colour.width, colour.height, part)


def _half(width: int, height: int, part: str) -> pyvips.Image:
    import pyvips

    side = part.split()[0]
    across = side in ("left", "right")
    length = width if across else height
    feather = max(1.0, HALF_FEATHER_SHARE * length)
    coordinate = pyvips.Image.xyz(width, height)[0 if across else 1]
    # 1 on the part's side of the middle line, 0 beyond it, a linear ramp `feather` wide.
    distance = (length / 2 - coordinate) if side in ("top", "left") else (coordinate - length / 2)
    weight = distance / feather + 0.5
    weight = (weight < 0).ifthenelse(0, (weight > 1).ifthenelse(1, weight))
    return (weight * 255 + 0.5).cast("uchar").copy(interpretation="b-w")


def _people(colour: pyvips.Image) -> pyvips.Image:
    import numpy as np
    import pyvips

    from mizual.localedit.findings import RegionNotFound, note
    from mizual.localedit.operations.pixels import resize_exactly, rgb_array
    from mizual.localedit.seeing import seeing

    pixels, _ = rgb_array(colour, longest=PEOPLE_WORKING_SIDE)
    found = seeing().people(pixels)
    if found is None:
        raise RegionNotFound("No people were found in this photo, so nothing was changed.")
    mask, figures = found
    share = float(mask.mean())
    note(f"{figures} {'person' if figures == 1 else 'people'} found ({share:.0%} of the photo)")
    image = pyvips.Image.new_from_array(np.rint(mask * 255).astype(np.uint8))
    whole = resize_exactly(image, width=colour.width, height=colour.height, kernel="linear")
    return whole.copy(interpretation="b-w")


def _sky(colour: pyvips.Image) -> pyvips.Image:
    import numpy as np
    import pyvips

    from mizual.localedit.findings import RegionNotFound, note
    from mizual.localedit.operations.pixels import resize_exactly, rgb_array
    from mizual.localedit.seeing import seeing

    pixels, _ = rgb_array(colour, longest=SKY_WORKING_SIDE)
    found = seeing().sky(pixels)
    if found is None:
        raise RegionNotFound("No sky was found in this photo, so nothing was changed.")
    note(f"the sky found ({found.share:.0%} of the photo)")
    image = pyvips.Image.new_from_array(np.rint(found.mask * 255).astype(np.uint8))
    whole = resize_exactly(image, width=colour.width, height=colour.height, kernel="linear")
    return whole.copy(interpretation="b-w")


def _background(colour: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.findings import note
    from mizual.localedit.operations.regions import subject_mask

    background = (255 - subject_mask(colour)).cast("uchar").copy(interpretation="b-w")
    note(f"the background is {background.avg() / 255:.0%} of the photo")
    return background
