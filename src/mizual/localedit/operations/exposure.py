"""Exposure and levels: the light changed in photographic stops, or stretched to the full range
from the photo's own histogram (which reads the photo twice: a measurement, then the edit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips

# auto_levels: the darkest and lightest 0.5% may clip; a nearly flat image is stretched at most
# to this many levels, so its noise is not blown up into the whole range.
LEVELS_CLIP_PERCENT = 0.5
LEVELS_MIN_SPAN = 48


@operation(
    "exposure in photographic stops",
    params={"stops": number((-3.0, 3.0), "+1 doubles the light, -1 halves it")},
)
def exposure(image: pyvips.Image, *, stops: float = 0.5) -> pyvips.Image:
    from mizual.localedit.operations import pixels

    # Light adds up in linear RGB: one stop doubles it there, not in the gamma-encoded values.
    linear = pixels.srgb_to_linear(pixels.LEVELS) * 2**stops
    return pixels.tone_curve(image, pixels.linear_to_srgb(linear))


@operation(
    "stretch the tones so the darkest is black and the lightest white", streams=False, once=True
)
def auto_levels(image: pyvips.Image) -> pyvips.Image:
    """Stretch the luminance's 0.5th..99.5th percentiles to black..white; one curve for every
    channel, so colours keep their hue."""
    import numpy as np

    from mizual.localedit.operations.pixels import LEVELS, luma, split_alpha, tone_curve

    colour, _ = split_alpha(image)
    histogram = np.asarray(luma(colour).hist_find().numpy(), dtype=np.float64).ravel()
    share_below = np.cumsum(histogram) / histogram.sum()
    clip = LEVELS_CLIP_PERCENT / 100
    low = int(np.searchsorted(share_below, clip))
    high = int(np.searchsorted(share_below, 1 - clip))
    if high - low < LEVELS_MIN_SPAN:
        middle = (low + high) / 2
        low, high = round(middle - LEVELS_MIN_SPAN / 2), round(middle + LEVELS_MIN_SPAN / 2)
    return tone_curve(image, (LEVELS - low) * 255 / (high - low))
