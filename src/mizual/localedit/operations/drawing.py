"""How the artistic styles of `styles.py` are drawn: a pencil sketch, a cartoon, a painting.

Each takes the colour bands of a photo (8-bit grey or sRGB) and returns the styled picture,
which may be smaller: the cartoon and the painting are drawn with OpenCV on a copy at most
WORKING_SIDE pixels on its longer side (the look is of flat regions and bold lines, which lose
nothing at that size, and the filters would take many seconds on 12 MP); the caller scales the
result back to the photo's size. The sketch is a libvips pipeline at full size.
"""

from __future__ import annotations

import cv2
import numpy as np
import pyvips

WORKING_SIDE = 1600
# Cartoon colours: each channel rounded to one of 256 / COLOUR_STEP flat tones.
COLOUR_STEP = 32


def sketch(colour: pyvips.Image) -> pyvips.Image:
    """Pencil on paper: the grey photo "colour-dodged" with its own blurred negative. Where the
    photo is flat the two cancel out to white paper; along edges they differ, leaving dark
    strokes as wide as the blur."""
    grey = colour if colour.bands == 1 else colour.colourspace("b-w")
    sigma = max(2.0, max(colour.width, colour.height) / 200)
    blurred_negative = grey.invert().gaussblur(sigma)
    paper = grey * 255 / (256 - blurred_negative)
    # Squaring darkens the strokes, which the dodge leaves faint, and keeps the paper white.
    pencil = (paper * paper / 255 + 0.5).cast("uchar")
    return pencil.copy(interpretation="b-w")


def cartoon(colour: pyvips.Image) -> pyvips.Image:
    """Flat colours (smoothed by a bilateral filter, which keeps edges, then rounded to a few
    tones) inside bold black outlines (an adaptive threshold of the median-smoothed grey)."""
    pixels = _working_copy(colour)
    smooth = pixels
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 9, 40, 7)
    flat = (smooth // COLOUR_STEP) * COLOUR_STEP + COLOUR_STEP // 2
    grey = cv2.medianBlur(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), 7)
    paper = cv2.adaptiveThreshold(
        grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, blockSize=9, C=5
    )
    drawn = np.where(paper[..., None] > 0, flat, 0).astype(np.uint8)
    return pyvips.Image.new_from_array(drawn).copy(interpretation="srgb")


def painting(colour: pyvips.Image) -> pyvips.Image:
    """OpenCV's edge-preserving smoothing (normalised convolution): texture melts into smooth,
    brush-like regions while the outlines of shapes stay."""
    pixels = _working_copy(colour)
    painted = cv2.edgePreservingFilter(pixels, flags=cv2.NORMCONV_FILTER, sigma_s=60, sigma_r=0.4)
    return pyvips.Image.new_from_array(np.ascontiguousarray(painted)).copy(interpretation="srgb")


def _working_copy(colour: pyvips.Image) -> np.ndarray:
    """The photo as an RGB array, at most WORKING_SIDE pixels on its longer side."""
    from mizual.localedit.operations.pixels import rgb_array

    return rgb_array(colour, longest=WORKING_SIDE)[0]
