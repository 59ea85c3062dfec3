"""Effects on the pixels themselves: the negative, a few flat tones, large square pixels."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips

PIXELATE_BLOCKS_ALONG_LONGER_SIDE = 64


@operation("photographic negative")
def invert(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations.pixels import on_colour

    return on_colour(image, lambda colour: colour.invert())


@operation(
    "few flat tones per channel",
    params={"levels": number((2, 64), "tones per channel", whole=True)},
)
def posterize(image: pyvips.Image, *, levels: int = 4) -> pyvips.Image:
    import numpy as np

    from mizual.localedit.operations.pixels import LEVELS, tone_curve

    steps = np.minimum(np.floor(LEVELS * levels / 256), levels - 1)
    return tone_curve(image, steps * 255 / (levels - 1))


@operation(
    "large square pixels",
    params={
        "block": number(
            (2, 512), "block size in pixels; absent: about 1/64 of the longer side", whole=True
        )
    },
)
def pixelate(image: pyvips.Image, *, block: int | None = None) -> pyvips.Image:
    from mizual.localedit.operations.pixels import premultiplied

    width, height = image.width, image.height
    if block is None:
        block = max(2, math.ceil(max(width, height) / PIXELATE_BLOCKS_ALONG_LONGER_SIDE))

    def blocky(whole: pyvips.Image) -> pyvips.Image:
        # Padded to whole blocks (edge pixels repeated) so the last row and column of blocks
        # are as big as the others, then cut back to the photo's size.
        padded = whole.embed(
            0,
            0,
            math.ceil(width / block) * block,
            math.ceil(height / block) * block,
            extend="copy",
        )
        return padded.shrink(block, block).zoom(block, block).crop(0, 0, width, height)

    return premultiplied(image, blocky)
