"""How far a photo is tilted, from its straight lines: the horizon, the edges of buildings, doors
and tables, the lines of text on a page.

Classic vision, no model: the edges of a copy at most LINES_SIDE pixels on its longer side
(Canny), then the straight lines through them (OpenCV's Hough transform, in steps of 0.1°). A
line within MAX_TILT degrees of horizontal or vertical is taken for one that should be level or
upright; each counts by how much of the photo's width (or height) its edge pixels cover, an
upright one less the farther it is from the middle (perspective makes the sides lean). The
tilt is the angle most of that weight agrees on (within AGREEMENT degrees), and it is trusted
only if the lines that agree add up to MIN_LINES photo-wide lines: a texture (grass, gravel,
cells) has many short lines at random angles and no such agreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

LINES_SIDE = 640
MAX_TILT = 12.0  # degrees; beyond this a photo is turned, not straightened
AGREEMENT = 0.5  # degrees
MIN_LINES = 2.5  # photo-wide lines (the horizon alone spans one) that agree on the tilt
STRONGEST = 20  # the lines considered, strongest first
ANGLE_STEP = 0.1  # degrees
FRAME = 3  # pixels along the photo's edges whose edges are ignored (a crop's, not the scene's)


@dataclass(frozen=True)
class Tilt:
    degrees: float  # clockwise: the photo is level once turned this far anticlockwise
    lines: float  # how many photo-wide lines agree on it


def tilt(pixels: np.ndarray) -> Tilt | None:
    """The tilt of an 8-bit RGB (or grey) photo, or None if its lines do not agree on one."""
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    scale = min(1.0, LINES_SIDE / max(height, width))
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        height, width = grey.shape
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.2), 50, 150)
    edges[:FRAME], edges[-FRAME:], edges[:, :FRAME], edges[:, -FRAME:] = 0, 0, 0, 0
    found = cv2.HoughLinesWithAccumulator(
        edges, 1, math.radians(ANGLE_STEP), threshold=max(20, round(0.2 * min(height, width)))
    )
    if found is None:
        return None
    candidates = []
    for rho, theta, votes in found[:, 0]:
        normal = math.degrees(theta)  # 0: a vertical line, 90: a horizontal one
        if abs(normal - 90) <= MAX_TILT:
            candidates.append((normal - 90, votes / width))
        elif normal <= MAX_TILT or normal >= 180 - MAX_TILT:
            # An upright line leans the more the farther it is from the middle in a photo taken
            # looking up or down (towers converge): it counts the less.
            across = (rho - height / 2 * math.sin(theta)) / math.cos(theta)
            central = max(0.0, 1 - abs(2 * across / width - 1))
            angle = normal if normal <= MAX_TILT else normal - 180
            candidates.append((angle, votes / height * central))
    if not candidates:
        return None
    candidates.sort(key=lambda candidate: -candidate[1])
    angles = np.array([angle for angle, _ in candidates[:STRONGEST]])
    weights = np.array([weight for _, weight in candidates[:STRONGEST]])
    best = max(angles, key=lambda angle: weights[np.abs(angles - angle) <= AGREEMENT].sum())
    agreeing = np.abs(angles - best) <= AGREEMENT
    lines = float(weights[agreeing].sum())
    if lines < MIN_LINES:
        return None
    return Tilt(degrees=float(np.average(angles[agreeing], weights=weights[agreeing])), lines=lines)
