"""The words of a prompt for the rule parser: normalised text, clauses, numbers, intensity, and
the parameters each operation reads from its clause.

`parser.py` holds the rules that decide which operation a clause asks for; the readers here turn
the clause into that operation's parameters ("darken it by 30%" into amount -0.3). The regular
expressions avoid nested or adjacent unbounded repeats, so a hostile 2,000-character prompt
costs linear time, and numbers are at most seven digits, so nothing overflows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

Params = dict[str, float | int | str]
Steps = list[tuple[str, Params]]  # (operation, parameters)

# --- Normalising ------------------------------------------------------------------------------

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00d7": "x",
        "\u00ba": "\u00b0",
        "\u02da": "\u00b0",
        "\u2026": ".",
        "\uff1a": ":",
    }
)
# Emoji, quotes, brackets and anything else that carries no instruction become spaces.
_NOT_ALLOWED = re.compile(r"[^a-z0-9 '%\u00b0:/&+\-.,;!?]+")
# An apostrophe that is a quote mark rather than part of a word ("don't", "70's" keep theirs).
_QUOTE_MARK = re.compile(r"(?<![a-z0-9])'|'(?![a-z])")
_SPACES = re.compile(r" {2,}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_NUMBER_VALUES = {word: value for value, word in enumerate(_UNITS.split())} | {
    word: 20 + 10 * index for index, word in enumerate(_TENS.split())
}
_NUMBER_WORD = "|".join(sorted([*_NUMBER_VALUES, "hundred", "thousand"], key=len, reverse=True))
# "one hundred and eighty", "forty-five": "and" only joins after hundred or thousand, so
# "one and two" stays two numbers.
_NUMBER_RUN = re.compile(
    rf"\b(?:{_NUMBER_WORD})(?:(?:[ -]|(?<=hundred) and |(?<=thousand) and )(?:{_NUMBER_WORD}))*\b"
)
_A_HUNDRED = re.compile(r"\ba (hundred|thousand)\b")
_AND_A_HALF = re.compile(r"\b(\d+) and a half\b")

# Phrases whose "and" must not split a clause; rewritten to one hyphenated word.
_BLACK_AND_WHITE = re.compile(
    r"\bblack ?(?:and|&|n|'n'|'n|-and-|-n-|-)? ?white\b|\bb ?(?:&|and|/|n|-) ?w\b|\bbnw\b|\bbw\b"
)
_COMPOUNDS = re.compile(
    r"\b(left|right|top|bottom|up|rock|pen|salt|back|front) and "
    r"(right|left|bottom|top|down|roll|ink|pepper|forth|back)\b"
)
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:backdrop|bg|surroundings)\b"), "background"),
    # "everything but the subject" and "the rest" are the background for these operations.
    (
        re.compile(
            r"\beverything (?:else|(?:but|except|apart from) (?:for )?(?:the |my )?(?:main )?"
            r"(?:subject|person|people|foreground))\b|\bthe rest(?: of (?:the |my )?"
            r"(?:photo|image|picture))?\b"
        ),
        "the background",
    ),
    # "black and white except the subject": the subject stays in colour.
    (
        re.compile(
            r"\bblack-and-white (?:with|but|except|apart from|keeping|and keep) (?:for )?"
            r"(?:the |my )?(?:main )?(?:subject|person|people|foreground)"
            r"(?: (?:in|kept in|left in|still in|stays in|staying in) colou?r)?"
        ),
        "colour-splash",
    ),
    # "a photo of my dog": the dog names the photo, it is not an object to edit.
    (
        re.compile(
            r"\b(?:photo|picture|image|pic|shot|snap|portrait)s? of "
            r"(?:my |the |this |our |a |an |his |her |their )?[a-z']+\b(?!-)"
        ),
        "photo",
    ),
    (re.compile(r"\bthere(?:'s| is)\b"), ""),
)
# Where a new clause starts although no comma says so: before a negation or "without".
_CLAUSE_START = re.compile(r" (?=(?:please )?(?:don'?t|do not|never|without)\b)")


def _number(match: re.Match[str]) -> str:
    total = current = 0
    for word in re.split(r"[ -]", match.group(0)):
        if word == "and":
            continue
        if word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total += (current or 1) * 1000
            current = 0
        else:
            current += _NUMBER_VALUES[word]
    return str(total + current)


def normalise(prompt: str) -> str:
    """Lower-case ASCII-ish text with single spaces, numbers as digits, fixed phrases joined."""
    text = prompt.lower().translate(_TRANSLATE)
    text = " ".join(text.split())  # tabs and newlines too
    text = _NOT_ALLOWED.sub(" ", text)
    text = _QUOTE_MARK.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    text = _A_HUNDRED.sub(r"one \1", text)
    text = _NUMBER_RUN.sub(_number, text)
    text = _AND_A_HALF.sub(r"\1.5", text)
    text = _BLACK_AND_WHITE.sub("black-and-white", text)
    text = _COMPOUNDS.sub(r"\1-and-\2", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    text = _CLAUSE_START.sub(", ", text)
    return _SPACES.sub(" ", text).strip()


# --- Clauses ----------------------------------------------------------------------------------

# "and"-like separators start a new edit; "comma"-like ones may only add a detail to the last
# one ("blur it, but only slightly", "rotate it, clockwise", "a vignette with 60% strength").
_SEPARATOR = re.compile(
    r" ?(?:([;!?]+|\.(?!\d)|&| - |(?<![\w'-])(?:and (?:then|also|finally|lastly|after that)|"
    r"after that|afterwards|after which|followed by|then|finally|lastly|next|also|plus|"
    r"as well as|and)(?![\w'-]))|(,|(?<![\w'-])(?:but|while|though|however|"
    # "with a vignette" is another edit; "with a radius of 5" or "with 8 colours" is not
    r"with(?! (?:a |an )?(?:\d|radius|strength|amount|size|blocks?|intensity|levels?)))"
    r"(?![\w'-]))) ?"
)


@dataclass
class Clause:
    text: str
    joined_by_comma: bool  # the separator before it was comma-like (or it is the first)
    separator: str = ""  # the words before it, to glue it back: "with", "but"


def clauses(text: str) -> list[Clause]:
    found: list[Clause] = []
    position = 0
    comma = True  # the separator before the next clause is comma-like
    glue = ""
    for match in _SEPARATOR.finditer(text):
        is_comma = match.group(2) is not None
        if _add_clause(found, text[position : match.start()], comma, glue):
            comma, glue = is_comma, ""
        else:  # two separators in a row ("and then", ", and"): "and"-like wins
            comma = comma and is_comma
        if match.group(2) and match.group(2) != ",":
            glue = f"{glue} {match.group(2)}".strip()
        position = match.end()
    _add_clause(found, text[position:], comma, glue)
    return found


def _add_clause(found: list[Clause], text: str, comma: bool, glue: str) -> bool:
    text = text.strip(" '-:/+")
    if text:
        found.append(Clause(text, comma, glue))
    return bool(text)


# --- Words ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9'\u00b0%:.+/-]+")
FILLER = word_set(
    """please pls plz kindly could can would will you u mind i i'd id i'm im we let's lets like
    want wanna need make made it it's its this that these those the a an my our me for photo
    photos image images picture pictures pic pics photograph shot snap version thanks thank thx
    ty cheers just look looks looking be to of so some also again now ok okay hi hello hey
    there first firstly second secondly lastly finally next overall whole entire all is are
    was should maybe perhaps try go get have do as well if possible bit little"""
)
INTENSITY_WORDS = word_set(
    """slightly slight little bit touch tad subtly subtle somewhat gently gentle mildly mild
    lightly barely marginally hint smidge lot lots much very really strongly strong
    dramatically significantly considerably heavily heavy way super seriously intensely
    intense noticeably substantially extremely massively hugely insanely maximum max
    incredibly drastically more less only not too quite rather fairly pretty even further
    ever tiny small amount"""
)
DETAIL_WORDS = INTENSITY_WORDS | word_set(
    """degrees degree deg \u00b0 percent % px pixels pixel stops stop ev levels level by
    radius strength intensity size blocks block clockwise counterclockwise counter-clockwise
    anticlockwise anti-clockwise ccw cw left right horizontally vertically horizontal
    vertical sideways around about roughly approximately or same direction side of"""
)
_NUMBERISH = re.compile(r"[+-]?\d[\d.]*(?:%|\u00b0|px|x)?")


def words(text: str) -> list[str]:
    """The words that carry meaning: filler such as "please" and "make it" left out."""
    return [word for word in _TOKEN.findall(text) if word not in FILLER]


def is_detail(text: str) -> bool:
    """Only intensity, numbers, units or directions: a detail of a neighbouring clause."""
    meaningful = words(text)
    return bool(meaningful) and all(
        word in DETAIL_WORDS or _NUMBERISH.fullmatch(word) for word in meaningful
    )


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


def find(pattern: str, clause: str) -> float | None:
    """The first number a pattern's groups captured, if it matched."""
    match = re.search(pattern, clause)
    if not match:
        return None
    text = next((group for group in match.groups() if group is not None), None)
    return _value(text) if text is not None else None


# --- Parameters of each operation ---------------------------------------------------------


class Hint(Exception):
    """A rule recognised the clause but it lacks something; the message says what."""


# --- Parameter helpers ------------------------------------------------------------------------

N = NUMBER
_DECREASE = re.compile(
    r"\b(?:less|lower\w*|reduc\w*|decreas\w*|lessen\w*|tone down|toned down|turn down|"
    r"dial (?:down|back)|drop\w*|cut|minus|fewer|diminish\w*|weaken\w*|remov\w*|soften\w*|"
    r"take (?:down|away)|not as)\b"
)
# "it's too dark" asks for the opposite of "dark".
_PROBLEM = re.compile(r"(?<!not )\b(?:too|overly|excessively)\b(?= [a-z])")
_WANTS_MORE = re.compile(r"\b(?:not enough|too little|lacks?|lacking|needs? more|could use more)\b")
_SIGNED_PERCENT = re.compile(r"(?<![\w.])[+-]\d[\d.]* ?(?:%|percent\b|per ?cent\b)")
_BY_NUMBER = re.compile(
    rf"\bby ({N})\b(?! ?(?:px|pixels?|stops?|ev|degrees?|deg|\u00b0|levels?|x\b|times))"
)


def _signed(clause: str, default: float, negative: re.Pattern[str]) -> float:
    """A relative change: "by 30%", "to 70%", "2x", or the default times the intensity, made
    negative by the operation's own words ("darker") or a decrease ("less bright") but not both
    ("reduce the darkness"), and turned round for a complaint ("too dark")."""
    target = to_percent(clause)
    if target is not None:
        return target - 1
    down = bool(negative.search(clause)) != bool(_DECREASE.search(clause))
    if _PROBLEM.search(clause):
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


def _scaled(clause: str, default: float) -> float:
    """A strength: "50%" of normal, or the default times the intensity."""
    share = percent(clause)
    return abs(share) * default if share is not None else default * intensity(clause)


def _bounded(clause: str, default: float) -> float:
    """A 0..1 amount: "60%", or the default pushed towards 0 or 1 by the intensity."""
    share = percent(clause)
    if share is not None:
        return abs(share)
    return 1 - math.pow(1 - default, intensity(clause))


def _radius(clause: str, default: float) -> float:
    size = pixels(clause)
    if size is None:
        size = find(rf"\b(?:radius|sigma|strength|amount|size)(?: of| to|:)? ?({N})", clause)
    if size is None:
        size = find(rf"\bblur\w* (?:it |by )*({N})\b(?! ?%)", clause)
    return abs(size) if size is not None else default * intensity(clause)


def none(_clause: str) -> Params:
    return {}


# --- Operation readers ------------------------------------------------------------------------


def brightness(clause: str) -> Params:
    dark = re.compile(r"\b(?:dark\w*|dim|dimmer|dimmed|dimming|less light|gloom\w*|mood\w*)\b")
    return {"amount": _signed(clause, 0.25, dark)}


def contrast(clause: str) -> Params:
    return {"amount": _signed(clause, 0.3, re.compile(r"\b(?:flat\w*|low)\b"))}


def saturation(clause: str) -> Params:
    muted = re.compile(
        r"\b(?:mut\w*|dull\w*|wash\w*|fad\w*|subdued|pastel\w*|calm\w*|oversaturat\w*|pale\w*|"
        r"soft)\b"
    )
    return {"amount": _signed(clause, 0.3, muted)}


def vibrance(clause: str) -> Params:
    return {"amount": _signed(clause, 0.4, re.compile(r"\b(?:mut\w*|dull\w*)\b"))}


def temperature(clause: str) -> Params:
    cool = re.compile(r"\b(?:cool\w*|cold\w*|blu\w*|icy|frosty|chilly)\b")
    return {"amount": _signed(clause, 0.3, cool)}


_STOPS = re.compile(rf"({N}) ?(?:stops?|ev|f-?stops?)\b|\bev ?({N})")


def exposure(clause: str) -> Params:
    darker = re.compile(r"\b(?:overexposed|underexpose|dark\w*|dim\w*)\b")
    down = bool(darker.search(clause)) != bool(_DECREASE.search(clause))
    if _PROBLEM.search(clause):
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
        return [("saturation", {"amount": -abs(_signed(clause, 0.3, re.compile("$^")))})]
    return [("grayscale", {})]


def sepia(clause: str) -> Params:
    share = percent(clause)
    return {"amount": abs(share) if share is not None else min(intensity(clause), 1.0)}


def posterize(clause: str) -> Params:
    levels = find(
        rf"({N}) ?(?:colou?r |tone |grey |gray )?(?:levels?|tones?|shades?|colou?rs?|steps?|"
        rf"bands?)\b|\bto ({N})\b",
        clause,
    )
    if levels is None:
        levels = {0.25: 16, 0.5: 8, 2.0: 3, 3.0: 2}.get(intensity(clause), 4)
    return {"levels": levels}


def pixelate(clause: str) -> Params:
    block = find(
        rf"({N}) ?(?:px|pixels?)? ?(?:blocks?|squares?|cells?|tiles?)\b|\bblocks? (?:size )?"
        rf"(?:of )?({N})",
        clause,
    )
    if block is None:
        block = pixels(clause)
    return {} if block is None else {"block": block}


def sharpen(clause: str) -> Params:
    return {"amount": _scaled(clause, 1.0)}


def blur(clause: str) -> Params:
    return {"sigma": _radius(clause, 4.0)}


def gentle_blur(clause: str) -> Params:
    return {"sigma": 1.0 * intensity(clause)}


def denoise(clause: str) -> Params:
    return {"strength": _scaled(clause, 1.0)}


def vignette(clause: str) -> Params:
    return {"amount": _bounded(clause, 0.4)}


def blur_background(clause: str) -> Params:
    return {"sigma": _radius(clause, 8.0)}


def darken_background(clause: str) -> Params:
    if re.search(r"\bblack\b", clause) and percent(clause) is None:
        return {"amount": 1.0}
    return {"amount": _bounded(clause, 0.5)}


def flip(clause: str) -> Params:
    vertical = re.search(
        r"\b(?:vertical\w*|upside[- ]?down|top-to-bottom|top to bottom|top-and-bottom|"
        r"bottom-and-top|up-and-down)\b",
        clause,
    )
    return {"direction": "vertical" if vertical else "horizontal"}


_COUNTER = re.compile(r"\b(?:counter-?clockwise|anti-?clockwise|counter clockwise|ccw|left)\b")
_SURELY_ROTATE = re.compile(r"\b(?:rotat\w*|spin\w*|tilt\w*)\b")


def rotate(clause: str) -> Params | None:
    degrees = find(rf"({N}) ?(?:\u00b0|deg(?:ree)?s?\b)", clause)
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


def _small_ratio(width: float, height: float) -> tuple[int, int]:
    """The ratio in whole numbers of at most 100 each (16:9 stays 16:9, 1.91:1 is 21:11)."""
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
    ratio_width, ratio_height = _small_ratio(width, height)
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


def _size(clause: str) -> Params | None:
    size = re.search(rf"({N}) ?(?:px|pixels)? ?(?:x|by) ?({N})", clause)
    if size:
        return {"width": float(size.group(1)), "height": float(size.group(2))}
    width = find(
        rf"({N}) ?(?:px|pixels?)? ?(?:wide|width|across|in width)\b|\bwidth (?:of |to |at )?"
        rf"(?:= ?|: ?)?({N})",
        clause,
    )
    height = find(
        rf"({N}) ?(?:px|pixels?)? ?(?:tall|high|height|in height)\b|\bheight (?:of |to |at )?"
        rf"(?:= ?|: ?)?({N})",
        clause,
    )
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
