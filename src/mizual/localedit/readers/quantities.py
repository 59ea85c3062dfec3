"""Numbers, units and intensity in a clause, and the shapes of parameter that most operations
read from them.

Numbers are at most seven digits, so nothing overflows downstream.
"""

from __future__ import annotations

import math
import re

# --- Intensity and numbers --------------------------------------------------------------------

_QUARTER = re.compile(r"\b(?:very|ever so|super|really) (?:slightly|subtly|little)\b")
_HALF = re.compile(
    r"\b(?:slight(?:ly)?|a (?:little|bit|touch|tad|hint|smidge|smidgen|wee bit)|subtl[ey]|"
    r"somewhat|gentl[ey]|mild(?:ly)?|lightly|barely|marginally|faintly|not (?:too|overly|so)|"
    r"a small amount|minimal(?:ly)?|softly|delicately|just a|light touch)\b"
)
_TRIPLE = re.compile(
    r"\b(?:extremely|massively|hugely|insanely|incredibly|enormously|drastically|radically|"
    r"ultra|maxim(?:um|ally|ise|ize)|max|as much as (?:possible|you can)|very very|"
    r"really really|tons)\b"
)
_DOUBLE = re.compile(
    r"\b(?:a lot|lots|(?<!too )much|very|really|strongly|strong|stronger|dramatically|"
    r"significantly|considerably|heavily|heavy|way|super|seriously|intensely|intense|"
    r"noticeably|substantially|quite a bit|a great deal|greatly|deeply|big time|loads)\b"
)


def intensity(clause: str) -> float:
    """How strongly: 0.5 for "slightly", 2 for "a lot", 3 for "extremely", else 1."""
    if _QUARTER.search(clause):
        return 0.25
    if _HALF.search(clause):
        return 0.5
    if _TRIPLE.search(clause):
        return 3.0
    if _DOUBLE.search(clause):
        return 2.0
    return 1.0


# Digits are bounded, so a number is at most 9,999,999.9999: no overflow downstream.
NUMBER = r"(?<![\d.])[+-]?\d{1,7}(?:\.\d{1,4})?(?![\d])"
_PERCENT = re.compile(rf"({NUMBER}) ?(?:%|percent\b|per ?cent\b|pct\b)")
_TO_PERCENT = re.compile(rf"\bto ({NUMBER}) ?(?:%|percent\b|per ?cent\b)")
_FACTOR = re.compile(rf"({NUMBER}) ?(?:x|times)\b|\bx ?({NUMBER})")
_PIXELS = re.compile(rf"({NUMBER}) ?(?:px|pixels?|pix)\b")
_ANY_NUMBER = re.compile(NUMBER)


def _value(text: str) -> float:
    return float(text)


def percent(clause: str) -> float | None:
    """A percentage as a fraction, 30% as 0.3, signed if the prompt gave a sign."""
    match = _PERCENT.search(clause)
    return _value(match.group(1)) / 100 if match else None


def to_percent(clause: str) -> float | None:
    """The target of "to 70%" as 0.7: a level to reach rather than a change."""
    match = _TO_PERCENT.search(clause)
    return _value(match.group(1)) / 100 if match else None


def factor(clause: str) -> float | None:
    """A factor written as 2x, x2 or 3 times."""
    match = _FACTOR.search(clause)
    return _value(match.group(1) or match.group(2)) if match else None


def pixels(clause: str) -> float | None:
    match = _PIXELS.search(clause)
    return _value(match.group(1)) if match else None


def first_number(clause: str) -> float | None:
    match = _ANY_NUMBER.search(clause)
    return _value(match.group(0)) if match else None


def find(pattern: re.Pattern[str], clause: str) -> float | None:
    """The first number a pattern's groups captured, if it matched."""
    match = pattern.search(clause)
    if not match:
        return None
    text = next((group for group in match.groups() if group is not None), None)
    return _value(text) if text is not None else None


# --- The shapes of parameter ------------------------------------------------------------------

N = NUMBER
DECREASE = re.compile(
    r"\b(?:less|lower\w*|reduc\w*|decreas\w*|lessen\w*|tone down|toned down|turn down|"
    r"dial (?:down|back)|drop\w*|cut|minus|fewer|diminish\w*|weaken\w*|remov\w*|soften\w*|"
    r"take (?:down|away)|not as)\b"
)
# "it's too dark" asks for the opposite of "dark".
PROBLEM = re.compile(r"(?<!not )\b(?:too|overly|excessively)\b(?= [a-z])")
_WANTS_MORE = re.compile(r"\b(?:not enough|too little|lacks?|lacking|needs? more|could use more)\b")
_SIGNED_PERCENT = re.compile(r"(?<![\w.])[+-]\d[\d.]* ?(?:%|percent\b|per ?cent\b)")
_BY_NUMBER = re.compile(
    rf"\bby ({N})\b(?! ?(?:px|pixels?|stops?|ev|degrees?|deg|\u00b0|levels?|x\b|times))"
)


def signed_change(clause: str, default: float, negative: re.Pattern[str]) -> float:
    """A relative change: "by 30%", "to 70%", "2x", or the default times the intensity, made
    negative by the operation's own words ("darker") or a decrease ("less bright") but not both
    ("reduce the darkness"), and turned round for a complaint ("too dark")."""
    target = to_percent(clause)
    if target is not None:
        return target - 1
    down = bool(negative.search(clause)) != bool(DECREASE.search(clause))
    if PROBLEM.search(clause):
        down = not down
    if _WANTS_MORE.search(clause):
        down = False
    sign = -1.0 if down else 1.0
    share = percent(clause)
    if share is not None:
        return share if _SIGNED_PERCENT.search(clause) else sign * abs(share)
    times = factor(clause)
    if times is not None and times > 0:
        return 1 / times - 1 if down else times - 1
    by = _BY_NUMBER.search(clause)
    if by:
        number = abs(float(by.group(1)))
        return sign * (number / 100 if number >= 1 else number)
    return sign * default * intensity(clause)


def strength(clause: str, default: float) -> float:
    """A strength: "50%" of normal, or the default times the intensity."""
    share = percent(clause)
    return abs(share) * default if share is not None else default * intensity(clause)


def bounded(clause: str, default: float) -> float:
    """A 0..1 amount: "60%", or the default pushed towards 0 or 1 by the intensity."""
    share = percent(clause)
    if share is not None:
        return abs(share)
    return 1 - math.pow(1 - default, intensity(clause))


_NAMED_RADIUS = re.compile(rf"\b(?:radius|sigma|strength|amount|size)(?: of| to|:)? ?({N})")
_BLUR_BY = re.compile(rf"\bblur\w* (?:it |by )*({N})\b(?! ?%)")


def radius(clause: str, default: float) -> float:
    """A blur's radius: "5px", "radius 5", "blur it 5", or the default times the intensity."""
    size = pixels(clause)
    if size is None:
        size = find(_NAMED_RADIUS, clause)
    if size is None:
        size = find(_BLUR_BY, clause)
    return abs(size) if size is not None else default * intensity(clause)
