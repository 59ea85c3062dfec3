"""Readers of light, colour, detail and the background: how much, and which way.

"darken it by 30%" is brightness -0.3, "a lot more contrast" twice the default, "it's too dark"
a brightening.
"""

from __future__ import annotations

import re

from mizual.localedit.readers import Params, Steps
from mizual.localedit.readers.quantities import (
    DECREASE,
    PROBLEM,
    N,
    bounded,
    find,
    intensity,
    percent,
    pixels,
    radius,
    signed_change,
    strength,
)
from mizual.localedit.text import word_set, words


def brightness(clause: str) -> Params:
    dark = re.compile(r"\b(?:dark\w*|dim|dimmer|dimmed|dimming|less light|gloom\w*|mood\w*)\b")
    return {"amount": signed_change(clause, 0.25, dark)}


def contrast(clause: str) -> Params:
    return {"amount": signed_change(clause, 0.3, re.compile(r"\b(?:flat\w*|low)\b"))}


def saturation(clause: str) -> Params:
    muted = re.compile(
        r"\b(?:mut\w*|dull\w*|wash\w*|fad\w*|subdued|pastel\w*|calm\w*|oversaturat\w*|pale\w*|"
        r"soft)\b"
    )
    return {"amount": signed_change(clause, 0.3, muted)}


def vibrance(clause: str) -> Params:
    return {"amount": signed_change(clause, 0.4, re.compile(r"\b(?:mut\w*|dull\w*)\b"))}


def temperature(clause: str) -> Params:
    cool = re.compile(r"\b(?:cool\w*|cold\w*|blu\w*|icy|frosty|chilly)\b")
    return {"amount": signed_change(clause, 0.3, cool)}


_STOPS = re.compile(rf"({N}) ?(?:stops?|ev|f-?stops?)\b|\bev ?({N})")


def exposure(clause: str) -> Params:
    darker = re.compile(r"\b(?:overexposed|underexpose|dark\w*|dim\w*)\b")
    down = bool(darker.search(clause)) != bool(DECREASE.search(clause))
    if PROBLEM.search(clause):
        down = not down
    match = _STOPS.search(clause)
    if match:
        text = match.group(1) or match.group(2)
        if text[0] in "+-":
            return {"stops": float(text)}
        magnitude = abs(float(text))
    elif re.search(r"\b(?:half a|a half) stop\b", clause):
        magnitude = 0.5
    else:
        magnitude = 0.5 * intensity(clause)
    return {"stops": -magnitude if down else magnitude}


_BARE_ENHANCE = word_set(
    "enhance enhanced enhancement improve improved fix fixed optimise optimize correct "
    "better auto touch up quality nicer good retouch polish automatically"
)


def auto_levels_alone(clause: str) -> Params | None:
    """Bare "enhance it" or "make it look better", with nothing else in the clause."""
    return {} if set(words(clause)) <= _BARE_ENHANCE else None


def grayscale(clause: str) -> Steps:
    # "desaturate slightly" or "by 50%" is less colour; "desaturate" alone is none at all.
    partial = percent(clause) is not None or intensity(clause) != 1.0
    if re.search(r"\bdesaturat", clause) and partial and "background" not in clause:
        return [("saturation", {"amount": -abs(signed_change(clause, 0.3, re.compile("$^")))})]
    return [("grayscale", {})]


def sepia(clause: str) -> Params:
    share = percent(clause)
    return {"amount": abs(share) if share is not None else min(intensity(clause), 1.0)}


_LEVELS = re.compile(
    rf"({N}) ?(?:colou?r |tone |grey |gray )?(?:levels?|tones?|shades?|colou?rs?|steps?|"
    rf"bands?)\b|\bto ({N})\b"
)
# Levels by intensity: "slightly posterised" keeps more tones, "strongly" fewer.
_LEVELS_BY_INTENSITY = {0.25: 16, 0.5: 8, 2.0: 3, 3.0: 2}


def posterize(clause: str) -> Params:
    levels = find(_LEVELS, clause)
    if levels is None:
        levels = _LEVELS_BY_INTENSITY.get(intensity(clause), 4)
    return {"levels": levels}


_BLOCKS = re.compile(
    rf"({N}) ?(?:px|pixels?)? ?(?:blocks?|squares?|cells?|tiles?)\b|\bblocks? (?:size )?"
    rf"(?:of )?({N})"
)


def pixelate(clause: str) -> Params:
    block = find(_BLOCKS, clause)
    block = pixels(clause) if block is None else block
    return {} if block is None else {"block": block}


def sharpen(clause: str) -> Params:
    return {"amount": strength(clause, 1.0)}


def blur(clause: str) -> Params:
    return {"sigma": radius(clause, 4.0)}


def gentle_blur(clause: str) -> Params:
    return {"sigma": 1.0 * intensity(clause)}


def denoise(clause: str) -> Params:
    return {"strength": strength(clause, 1.0)}


def vignette(clause: str) -> Params:
    return {"amount": bounded(clause, 0.4)}


def blur_background(clause: str) -> Params:
    return {"sigma": radius(clause, 8.0)}


# The portrait look: the background softened, and corners darkened this much, gently.
PORTRAIT_VIGNETTE = 0.2


def portrait_look(clause: str) -> Steps:
    """The portrait look ("make it look like a portrait photo"): the subject sharp, the
    background soft, a slight vignette; a look, not an aspect ratio."""
    return [
        ("blur_background", blur_background(clause)),
        ("vignette", {"amount": PORTRAIT_VIGNETTE}),
    ]


def darken_background(clause: str) -> Params:
    if re.search(r"\bblack\b", clause) and percent(clause) is None:
        return {"amount": 1.0}
    return {"amount": bounded(clause, 0.5)}
