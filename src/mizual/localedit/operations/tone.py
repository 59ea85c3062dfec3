"""Tone: lighter or darker, more or less contrast. Each is one 256-entry lookup table per
channel (exact, rounded once, and the cheapest libvips operation), so the photo streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips


@operation(
    "lighter or darker",
    params={"amount": number((-0.95, 3.0), "relative change: 0.25 is 25% brighter, -0.3 darker")},
)
def brightness(image: pyvips.Image, *, amount: float = 0.25) -> pyvips.Image:
    from mizual.localedit.operations.pixels import LEVELS, tone_curve

    return tone_curve(image, LEVELS * (1 + amount))


@operation(
    "more or less contrast around mid-grey",
    params={"amount": number((-0.9, 3.0), "relative change: 0.3 is 30% more, -0.3 less")},
)
def contrast(image: pyvips.Image, *, amount: float = 0.3) -> pyvips.Image:
    from mizual.localedit.operations.pixels import LEVELS, tone_curve

    return tone_curve(image, 128 + (LEVELS - 128) * (1 + amount))
