"""Readers of geometry: which way to turn or mirror, what shape to crop to, what size to make.

"turn it left" is -90 degrees, "make it square" a 1:1 crop, "crop to 1920x1080" a crop and then
a resize, "half the size" a scale of 0.5.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from mizual.localedit.readers import Hint, Params, Steps
from mizual.localedit.readers.quantities import (
    N,
    factor,
    find,
    first_number,
    intensity,
    percent,
    pixels,
    to_percent,
)


def flip(clause: str) -> Params:
    vertical = re.search(
        r"\b(?:vertical\w*|upside[- ]?down|top-to-bottom|top to bottom|top-and-bottom|"
        r"bottom-and-top|up-and-down)\b",
        clause,
    )
    return {"direction": "vertical" if vertical else "horizontal"}


_DEGREES = re.compile(rf"({N}) ?(?:\u00b0|deg(?:ree)?s?\b)")
_COUNTER = re.compile(r"\b(?:counter-?clockwise|anti-?clockwise|counter clockwise|ccw|left)\b")
_SURELY_ROTATE = re.compile(r"\b(?:rotat\w*|spin\w*|tilt\w*)\b")


def rotate(clause: str) -> Params | None:
    degrees = find(_DEGREES, clause)
    if degrees is None:
        if re.search(r"\b(?:upside[- ]?down|half[- ]turn|turn\w* (?:it )?around)\b", clause):
            degrees = 180.0
        elif re.search(r"\b(?:3 ?quarters?|three[- ]quarters?)[- ]turn", clause):
            degrees = 270.0
        elif re.search(r"\bquarter[- ]turn|\bsideways\b", clause):
            degrees = 90.0
        elif _SURELY_ROTATE.search(clause):
            degrees = first_number(clause)
            degrees = 90.0 if degrees is None else degrees
        elif re.search(r"\b(?:left|right|clockwise|cw)\b", clause) or _COUNTER.search(clause):
            degrees = 90.0  # "turn it left"
        else:
            return None  # "turn" alone: "turn up the contrast" was not about rotating
    if _COUNTER.search(clause) and degrees > 0:
        degrees = -degrees
    return {"degrees": math.fmod(degrees, 360.0)}


_CROP_WORDS = re.compile(r"\b(?:crop\w*|aspect|ratio|trim\w*)\b")
_ORIENTATION_CONTEXT = re.compile(
    r"\b(?:crop\w*|orientation|format|make|turn|convert|change|aspect|ratio|to|into|as|in)\b"
)
_NAMED_RATIOS: tuple[tuple[re.Pattern[str], tuple[float, float]], ...] = tuple(
    (re.compile(pattern), ratio)
    for pattern, ratio in (
        (r"\bsquare\b", (1, 1)),
        (r"\b(?:stor(?:y|ies)|reels?|tiktok|vertical video|phone wallpaper)\b", (9, 16)),
        (r"\binstagram (?:portrait|post portrait)\b|\bportrait instagram\b", (4, 5)),
        (r"\binstagram landscape\b", (1.91, 1)),
        (r"\binstagram\b", (1, 1)),
        (r"\bwide-?screen\b|\bwide screen\b|\bhdtv\b|\byoutube\b", (16, 9)),
        (r"\b(?:cinemascope|anamorphic|ultra-?wide|letterbox\w*|cinema\w*)\b", (21, 9)),
        (r"\bpanoram\w*\b", (3, 1)),
        (r"\bgolden ratio\b", (1.618, 1)),
        (r"\bportrait\b", (2, 3)),
        (r"\blandscape\b", (3, 2)),
    )
)


def _small_ratio(ratio: tuple[float, float]) -> tuple[int, int]:
    """The ratio in whole numbers of at most 100 each (16:9 stays 16:9, 1.91:1 is 21:11)."""
    width, height = ratio
    if width <= 0 or height <= 0:
        raise Hint("an aspect ratio needs two positive numbers, such as 16:9")
    exact = Fraction(str(width)) / Fraction(str(height))
    if not Fraction(1, 100) <= exact <= 100:
        raise Hint("an aspect ratio must be between 1:100 and 100:1")
    if exact.numerator <= 100 and exact.denominator <= 100:
        return exact.numerator, exact.denominator
    best = min(
        (Fraction(round(exact * d), d) for d in range(1, 101) if 1 <= round(exact * d) <= 100),
        key=lambda f: abs(f - exact),
    )
    return best.numerator, best.denominator


def crop(clause: str) -> Steps | None:
    crop_words = bool(_CROP_WORDS.search(clause))
    resize_too: Params = {}
    ratio: tuple[float, float] | None = None
    colon = re.search(rf"({N}) ?: ?({N})|({N}) ?/ ?({N})(?=.*\bcrop)", clause)
    times = re.search(rf"({N}) ?(?:px|pixels)? ?(?:x|by) ?({N})", clause)
    if colon:
        ratio = (float(colon.group(1) or colon.group(3)), float(colon.group(2) or colon.group(4)))
    elif times:
        a, b = float(times.group(1)), float(times.group(2))
        if re.search(r"\b(?:px|pixels?)\b", clause) or max(a, b) > 32:
            if not crop_words:
                return None  # "make it 300x200" is a size: resize reads it
            resize_too = {"width": a, "height": b}  # "crop to 1920x1080": crop, then resize
        ratio = (a, b)
    else:
        for pattern, named in _NAMED_RATIOS:
            if pattern.search(clause):
                ratio = named
                break
        orientation_only = ratio in ((2, 3), (3, 2))
        if orientation_only and not _ORIENTATION_CONTEXT.search(clause):
            return None
    if ratio is None:
        if crop_words:
            raise Hint("crop needs an aspect ratio, such as 'crop to 16:9' or 'make it square'")
        return None
    width, height = ratio
    portrait = re.search(r"\b(?:portrait|vertical|tall)\b", clause)
    landscape = re.search(r"\b(?:landscape|horizontal)\b", clause)
    if (portrait and width > height) or (landscape and width < height):
        width, height = height, width  # "crop 16:9 portrait" is 9:16
    ratio_width, ratio_height = _small_ratio((width, height))
    steps: Steps = [("crop", {"ratio_width": ratio_width, "ratio_height": ratio_height})]
    across = pixels(clause)
    if not resize_too and across is not None:
        resize_too = {"width": across}  # "crop to square, 800 px"
    return [*steps, ("resize", resize_too)] if resize_too else steps


_GROW = re.compile(r"\b(?:bigger|larger|enlarg\w*|grow\w*|increas\w*|upscal\w*|up-?siz\w*)\b")
_SHRINK = re.compile(
    r"\b(?:smaller|shrink\w*|reduc\w*|decreas\w*|downscal\w*|down-?siz\w*|downsampl\w*)\b"
)


def resize(clause: str) -> Params | None:
    found = _size(clause)
    if found is not None and any(float(value) <= 0 for value in found.values()):
        raise Hint("a size or scale must be more than zero")
    return found


_WIDTH = re.compile(
    rf"({N}) ?(?:px|pixels?)? ?(?:wide|width|across|in width)\b|\bwidth (?:of |to |at )?"
    rf"(?:= ?|: ?)?({N})"
)
_HEIGHT = re.compile(
    rf"({N}) ?(?:px|pixels?)? ?(?:tall|high|height|in height)\b|\bheight (?:of |to |at )?"
    rf"(?:= ?|: ?)?({N})"
)


def _size(clause: str) -> Params | None:
    size = re.search(rf"({N}) ?(?:px|pixels)? ?(?:x|by) ?({N})", clause)
    if size:
        return {"width": float(size.group(1)), "height": float(size.group(2))}
    width = find(_WIDTH, clause)
    height = find(_HEIGHT, clause)
    if width is not None or height is not None:
        return {
            key: value for key, value in (("width", width), ("height", height)) if value is not None
        }
    for pattern, named in (
        (r"\b(?:1080p|full hd|fhd)\b", {"height": 1080}),
        (r"\b(?:720p|hd)\b", {"height": 720}),
        (r"\b(?:4k|uhd)\b", {"width": 3840}),
        (r"\b2k\b", {"width": 2048}),
    ):
        if re.search(pattern, clause):
            return dict(named)
    across = pixels(clause)
    if across is not None:
        return {"width": across}  # "resize to 800px": the width
    scale = _scale(clause)
    if scale is not None:
        return {"scale": scale}
    if re.search(r"\bthumbnail\b", clause):
        return {"width": 256}
    if re.search(r"\b(?:resiz\w*|re-?scal\w*|scal(?:e|ed|ing))\b", clause):
        raise Hint(
            "resize needs a size, such as 'resize to 800 px wide', 'half the size' or "
            "'scale by 150%'"
        )
    return None


def _scale(clause: str) -> float | None:
    grow, shrink = bool(_GROW.search(clause)), bool(_SHRINK.search(clause))
    target = to_percent(clause)
    if target is not None:
        return target
    share = percent(clause)
    if share is not None:
        share = abs(share)
        if grow and re.search(r"\bby\b|% (?:bigger|larger)", clause):
            return 1 + share
        if shrink and re.search(r"\bby\b|% smaller", clause):
            return 1 - share
        return share
    times = factor(clause)
    if times is not None and times > 0:
        return 1 / times if shrink and times > 1 else times
    for pattern, value in (
        (r"\b(?:double|doubled|twice)\b", 2.0),
        (r"\b(?:triple|tripled|thrice)\b", 3.0),
        (r"\b(?:half|halve|halved)\b", 0.5),
        (r"\bquarter\b", 0.25),
        (r"\bthird\b", 1 / 3),
    ):
        if re.search(pattern, clause):
            return value
    strength = intensity(clause)
    if grow:
        return {0.25: 1.1, 0.5: 1.25, 2.0: 3.0, 3.0: 4.0}.get(strength, 2.0)
    if shrink:
        return {0.25: 0.9, 0.5: 0.75, 2.0: 1 / 3, 3.0: 0.25}.get(strength, 0.5)
    return None
