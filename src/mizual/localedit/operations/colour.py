"""Colour: saturation, vibrance, black and white, sepia, the vintage look, white balance.

Colour matrices (libvips `recomb`) and lookup tables, all streaming. Vibrance works in LCh, where
chroma and hue are separate bands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mizual.localedit.operations.detail import vignette
from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips

# Rec. 709 luminance weights, for light measured in linear RGB.
LINEAR_LUMINANCE = (0.2126, 0.7152, 0.0722)
# Sepia as a tint of the luminance: red lifted, blue lowered, the luminance itself about kept.
SEPIA_TINT = (1.12, 0.99, 0.78)
# Vibrance: colours this vivid (LCh chroma) or more get no boost; skin hues get half of it.
VIVID_CHROMA = 60.0
SKIN_HUE, SKIN_HUE_WIDTH = 50.0, 30.0


@operation(
    "more or less colour, evenly",
    params={"amount": number((-1.0, 3.0), "relative change: 0.3 is 30% more, -1 no colour")},
)
def saturation(image: pyvips.Image, *, amount: float = 0.3) -> pyvips.Image:
    """Each pixel moved away from (or towards) its own grey: one matrix, the luma kept."""
    import numpy as np

    from mizual.localedit.operations.pixels import LUMA_WEIGHTS, on_colour, uchar

    weights = np.array(LUMA_WEIGHTS)
    factor = 1 + amount
    matrix = (1 - factor) * np.tile(weights, (3, 1)) + factor * np.eye(3)

    def saturate(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            return colour  # nothing to saturate in a grey photo
        return uchar(colour.recomb(matrix.tolist()))

    return on_colour(image, saturate)


@operation(
    "more colour where there is little, sparing skin and already vivid colours",
    params={"amount": number((-1.0, 2.0), "strength: 0.4 moderate, negative mutes")},
)
def vibrance(image: pyvips.Image, *, amount: float = 0.4) -> pyvips.Image:
    """Chroma raised in LCh in proportion to how dull a pixel is, skin tones half as much."""
    from mizual.localedit.operations.pixels import clamped, on_colour, uchar

    def boost(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            return colour
        lch = colour.colourspace("lch")
        chroma, hue = lch[1], lch[2]
        dullness = clamped(1 - chroma / VIVID_CHROMA)
        skin = clamped(1 - (hue - SKIN_HUE).abs() / SKIN_HUE_WIDTH)
        chroma = chroma * (1 + amount * dullness * (1 - 0.5 * skin))
        return uchar(lch[0].bandjoin([chroma, hue]).copy(interpretation="lch").colourspace("srgb"))

    return on_colour(image, boost)


@operation("black and white", once=True)
def grayscale(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations.pixels import luma, on_colour

    return on_colour(image, lambda colour: colour if colour.bands == 1 else luma(colour))


@operation(
    "brown-toned old photograph",
    params={"amount": number((0.0, 1.0), "1 is full sepia, 0.5 half way")},
)
def sepia(image: pyvips.Image, *, amount: float = 1.0) -> pyvips.Image:
    import numpy as np

    from mizual.localedit.operations.pixels import LUMA_WEIGHTS, on_colour, rgb, uchar

    toned = np.outer(SEPIA_TINT, np.array(LUMA_WEIGHTS))
    matrix = amount * toned + (1 - amount) * np.eye(3)
    return on_colour(image, lambda colour: uchar(rgb(colour).recomb(matrix.tolist())))


@operation("faded, warm, sepia-tinged look with a soft vignette", once=True)
def vintage(image: pyvips.Image) -> pyvips.Image:
    """Half sepia, then faded: blacks lifted to a warm dark brown and whites dimmed to cream, a
    little less contrast, and soft dark corners."""
    import numpy as np

    from mizual.localedit.operations.pixels import LEVELS, tone_curve

    toned = sepia(image, amount=0.5)
    black, white = np.array([50.0, 34.0, 18.0]), np.array([252.0, 234.0, 196.0])
    faded = black[None, :] + LEVELS[:, None] / 255 * (white - black)[None, :]
    return vignette(tone_curve(toned, faded, colour=True), amount=0.3)


@operation(
    "warm or cool white balance",
    params={"amount": number((-1.0, 1.0), "positive warmer (more orange), negative cooler")},
)
def temperature(image: pyvips.Image, *, amount: float = 0.3) -> pyvips.Image:
    """White balance: red and blue gains in linear light, scaled so a grey keeps its luminance."""
    import numpy as np

    from mizual.localedit.operations import pixels

    gains = np.array([2 ** (0.8 * amount), 1.0, 2 ** (-0.8 * amount)])
    gains /= gains @ np.array(LINEAR_LUMINANCE)
    linear = pixels.srgb_to_linear(pixels.LEVELS)[:, None] * gains[None, :]
    return pixels.tone_curve(image, pixels.linear_to_srgb(linear), colour=True)
