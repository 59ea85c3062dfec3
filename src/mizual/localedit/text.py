"""The text of a prompt as the rule parser reads it: normalised, split into clauses, and
reduced to the words that carry meaning.

Numbers written as words become digits, quote marks and emoji spaces, and phrases whose "and"
must not split a clause ("black and white", "rock and roll") one hyphenated word. The regular
expressions avoid nested or adjacent unbounded repeats, so a hostile 2,000-character prompt
costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        if _add_clause(found, text[position : match.start()], comma=comma, glue=glue):
            comma, glue = is_comma, ""
        else:  # two separators in a row ("and then", ", and"): "and"-like wins
            comma = comma and is_comma
        if match.group(2) and match.group(2) != ",":
            glue = f"{glue} {match.group(2)}".strip()
        position = match.end()
    _add_clause(found, text[position:], comma=comma, glue=glue)
    return found


def _add_clause(found: list[Clause], text: str, *, comma: bool, glue: str) -> bool:
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
