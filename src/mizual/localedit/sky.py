"""Where the sky is in a photo, by classic vision: no model ships one we can use offline.

On a copy SKY_SIDE pixels on its longer side, a pixel may be sky if it is smooth (little change
of lightness around it) and sky-coloured: blue (a Lab hue between BLUE_HUES, from a dusk's deep
blue to a hazy day's pale one) or a bright neutral grey or white (an overcast sky, or any sky of
a black-and-white photo). The sky is what of that touches the photo's top edge, with the clouds
and birds it encloses. It is trusted only if it looks like a sky, not a wall behind a portrait:

- it is a real part of the photo (MIN_SHARE) and runs along the top edge (MIN_TOP_EDGE);
- it lies above the rest: each column's sky mostly starts at the top and runs down unbroken
  (MIN_HANGING), and little of it is left at the bottom (MAX_AT_THE_BOTTOM): a white studio
  backdrop around a figure or a page around its text is not;
- a grey sky is brighter than the rest of the photo (GREY_SKY_BRIGHTER): grey walls are not.

The mask's edge follows the photo's own edges (a guided filter on its lightness), so an edit fades
out along a roof line or a tree instead of in a blurred band.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SKY_SIDE = 384
MAX_GRADIENT = 1.5  # lightness (0-100) per pixel at SKY_SIDE, after a slight blur
BLUE_HUES = (225.0, 300.0)  # degrees of Lab hue
MIN_BLUE_CHROMA = 6.0
MIN_BLUE_LIGHTNESS = 8.0  # a night sky is black: not told from the dark
MAX_GREY_CHROMA = 6.0
MAX_GREY_WARMTH = 3.0  # Lab b*: a warm grey is a wall or paper, a sky is neutral or cool
MIN_GREY_LIGHTNESS = 50.0
MIN_SHARE = 0.06
MIN_TOP_EDGE = 0.25  # share of the top row
MIN_HANGING = 0.8
MAX_AT_THE_BOTTOM = 0.5  # share of the bottom tenth's rows
GREY_SKY_BRIGHTER = 12.0  # Lab lightness above the photo's mean
MIN_PIECE = 0.005  # share of the photo: smaller pieces along the top are not sky
MAX_HOLE = 0.005  # share of the photo: a bigger hole in the sky is something in front of it
EDGE = 2  # pixels at SKY_SIDE
FILTER_RADIUS = 4  # pixels at SKY_SIDE (more on the larger copy the mask is made at)
FILTER_EPSILON = 1e-3


@dataclass(frozen=True)
class Sky:
    mask: np.ndarray  # float32 0..1 at the size of the photo given
    share: float  # of the photo


def sky(pixels: np.ndarray) -> Sky | None:
    """The sky of an 8-bit RGB photo (height x width x 3), or None if none is found."""
    height, width = pixels.shape[:2]
    scale = min(1.0, SKY_SIDE / max(height, width))
    small = pixels
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness = lab[..., 0] * (100 / 255)
    a, b = lab[..., 1] - 128, lab[..., 2] - 128
    found = _hanging_from_the_top(_sky_coloured_and_smooth(lightness, a, b))
    if found is None or not _looks_like_a_sky(found, lightness=lightness, a=a, b=b):
        return None
    # The pixels along the sky's edge are not smooth, so they were left out: taken back (EDGE
    # pixels into what borders the sky), for the guided filter to find where the edge is.
    edge = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE + 1, 2 * EDGE + 1))
    hard: np.ndarray = cv2.dilate(found.astype(np.uint8), edge).astype(np.float32)
    if hard.shape != (height, width):
        hard = cv2.resize(hard, (width, height), interpolation=cv2.INTER_LINEAR)
    whole_lightness = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    radius = max(1, round(FILTER_RADIUS / scale))
    soft = np.clip(
        _guided(hard, guide=whole_lightness.astype(np.float32) / 255, radius=radius), 0, 1
    )
    return Sky(mask=soft, share=float(found.mean()))


def _sky_coloured_and_smooth(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(lightness, (0, 0), 1.5)
    across = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3) / 8
    down = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3) / 8
    smooth = np.hypot(across, down) < MAX_GRADIENT
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360
    blue = (
        (chroma >= MIN_BLUE_CHROMA)
        & (hue >= BLUE_HUES[0])
        & (hue <= BLUE_HUES[1])
        & (lightness >= MIN_BLUE_LIGHTNESS)
    )
    grey = (chroma < MAX_GREY_CHROMA) & (b <= MAX_GREY_WARMTH) & (lightness >= MIN_GREY_LIGHTNESS)
    result: np.ndarray = smooth & (blue | grey)
    return result


def _hanging_from_the_top(candidate: np.ndarray) -> np.ndarray | None:
    """The pieces of `candidate` that touch the top row, with the holes they enclose filled."""
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=4)
    if count < 2:
        return None
    sizes = np.bincount(labels.ravel(), minlength=count)
    least = MIN_PIECE * candidate.size
    touching = [label for label in np.unique(labels[0]) if label and sizes[label] >= least]
    if not touching:
        return None
    found = np.isin(labels, touching)
    # A hole is what the sky encloses (a cloud's edge, a bird): a small piece of what is not sky
    # that does not reach the photo's edges.
    outside = (~found).astype(np.uint8)
    count, pieces = cv2.connectedComponents(outside, connectivity=4)
    border = np.unique(np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]]))
    sizes = np.bincount(pieces.ravel(), minlength=count)
    small = np.flatnonzero(sizes <= MAX_HOLE * candidate.size)
    enclosed = (pieces > 0) & np.isin(pieces, small) & ~np.isin(pieces, border)
    result: np.ndarray = found | enclosed
    return result


def _looks_like_a_sky(
    found: np.ndarray, *, lightness: np.ndarray, a: np.ndarray, b: np.ndarray
) -> bool:
    height = found.shape[0]
    if found.mean() < MIN_SHARE or found[0].mean() < MIN_TOP_EDGE:
        return False
    if found[height - max(1, height // 10) :].mean() > MAX_AT_THE_BOTTOM:
        return False
    # In each column, the run of sky from the top down to the first pixel that is not sky.
    runs = np.where(found.all(axis=0), height, np.argmin(found, axis=0))
    if runs.sum() < MIN_HANGING * found.sum():
        return False
    chroma = np.hypot(a[found], b[found])
    if float(np.median(chroma)) < MIN_BLUE_CHROMA:  # a grey sky
        return float(lightness[found].mean()) >= float(lightness.mean()) + GREY_SKY_BRIGHTER
    return True


def _guided(mask: np.ndarray, *, guide: np.ndarray, radius: int) -> np.ndarray:
    """He, Sun and Tang's guided filter (grey guide): `mask` smoothed where `guide` is flat and
    kept sharp across its edges."""
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(values: np.ndarray) -> np.ndarray:
        averaged: np.ndarray = cv2.boxFilter(values, cv2.CV_32F, size)
        return averaged

    guide_mean, mask_mean = mean(guide), mean(mask)
    covariance = mean(guide * mask) - guide_mean * mask_mean
    variance = mean(guide * guide) - guide_mean * guide_mean
    slope = covariance / (variance + FILTER_EPSILON)
    offset = mask_mean - slope * guide_mean
    result: np.ndarray = mean(slope) * guide + mean(offset)
    return result
