"""Detail: sharpening, blurring, denoising, and the vignette's darkened corners.

Denoising is OpenCV's bilateral filter, on an array; the others are libvips pipelines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips


@operation(
    "crisper detail",
    params={"amount": number((0.1, 5.0), "strength: 0.5 gentle, 1 normal, 2 strong")},
)
def sharpen(image: pyvips.Image, *, amount: float = 1.0) -> pyvips.Image:
    """Unsharp masking of the lightness (libvips `sharpen`), with a radius that grows with the
    photo so a 12 MP photo's detail is sharpened, not only its noise."""
    from mizual.localedit.operations.pixels import on_colour

    sigma = min(max(max(image.width, image.height) / 3000, 0.5), 3.0)
    return on_colour(
        image,
        lambda colour: colour.sharpen(
            sigma=sigma, m1=0.5 * amount, m2=3 * amount, y2=10 * amount, y3=20 * amount
        ),
    )


@operation(
    "soften the whole image", params={"sigma": number((0.3, 100.0), "Gaussian radius in pixels")}
)
def blur(image: pyvips.Image, *, sigma: float = 4.0) -> pyvips.Image:
    from mizual.localedit.operations.pixels import premultiplied

    return premultiplied(image, lambda whole: whole.gaussblur(sigma))


@operation(
    "smooth away grain and noise, keeping edges",
    params={"strength": number((0.1, 3.0), "0.5 gentle, 1 normal, 2 strong")},
)
def denoise(image: pyvips.Image, *, strength: float = 1.0) -> pyvips.Image:
    """OpenCV's bilateral filter: averages similar neighbours, so grain goes and edges stay.
    A fraction of a second on 12 MP, where non-local means would take a minute."""
    import cv2
    import numpy as np
    import pyvips

    from mizual.localedit.operations.pixels import on_colour

    diameter = 5 + 2 * round(2 * strength)
    sigma_colour = 25 + 25 * strength

    def smooth(colour: pyvips.Image) -> pyvips.Image:
        pixels = np.ascontiguousarray(colour.numpy())
        smoothed = cv2.bilateralFilter(pixels, diameter, sigma_colour, diameter)
        return pyvips.Image.new_from_array(smoothed)

    return on_colour(image, smooth)


@operation(
    "darken the corners",
    params={"amount": number((0.05, 1.0), "how dark the corners get: 1 black")},
)
def vignette(image: pyvips.Image, *, amount: float = 0.4) -> pyvips.Image:
    """Darker towards the corners (1 - amount there), untouched within a third of the way out."""
    import pyvips

    from mizual.localedit.operations.pixels import clamped, on_colour, uchar

    width, height = image.width, image.height
    position = pyvips.Image.xyz(width, height)
    across = (position[0] - (width - 1) / 2) / (width / 2)
    down = (position[1] - (height - 1) / 2) / (height / 2)
    # Squared distance scaled so the corners are at 1; the falloff is a smoothstep of it.
    distance = (across * across + down * down) / 2
    start = 1 / 9
    ramp = clamped((distance - start) / (1 - start))
    darkening = 1 - amount * ramp * ramp * (3 - 2 * ramp)
    return on_colour(image, lambda colour: uchar(colour * darkening))
