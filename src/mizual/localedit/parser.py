"""Reads an English instruction as an edit plan, clause by clause.

Every clause must be understood; a clause that is not (or asks for new content, which an offline
editor cannot make) fails the whole prompt with a message that says which words and what works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mizual.localedit.plan import EditPlan, Step

EXAMPLES = (
    "make it black and white",
    "make it a bit brighter",
    "darken it by 30%",
    "increase the contrast",
    "blur it slightly",
    "rotate 90 degrees clockwise",
    "turn it upside down",
    "flip horizontally",
)


class PromptNotUnderstood(Exception):
    def __init__(self, unknown: list[str]) -> None:
        quoted = ", ".join(f"'{text}'" for text in unknown)
        examples = "; ".join(f"'{example}'" for example in EXAMPLES)
        super().__init__(
            f"The offline editor did not understand {quoted}. It can change colour, light and "
            f"geometry, but cannot add or remove objects. Try for example: {examples}."
        )
        self.unknown = unknown


_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[,;!]|\.(?!\d)|\band then\b|\bthen\b|\band\b|\balso\b|&(?!\s*w))\s*"
)
_BLACK_AND_WHITE = re.compile(r"\bblack\s*(?:and|&|n)\s*white\b")
_FILLER = re.compile(
    r"\b(?:please|pls|kindly|could you|can you|would you|will you|i want(?: you)? to|i want|"
    r"i'd like(?: you)? to|i would like(?: you)? to|i'd like|let's|make|it|its|it's|this|that|"
    r"the|a|an|image|photo|picture|pic|photograph|for me|thanks|thank you|just|look|looks|"
    r"little|bit|be|more|much|so|to|of|my|some|slightly|very|really|lot|way|somewhat)\b"
)
# Asks that need a mask of the subject or new pixels: not in this editor yet.
_OUT_OF_REACH = re.compile(
    r"\b(?:background|foreground|subject|person|people|face|sky|object|add|insert|replace|"
    r"remove(?! (?:the |all )?colou?rs?)|erase|put)\b"
)


@dataclass(frozen=True)
class _Rule:
    operation: str
    pattern: re.Pattern[str]
    params: Callable[[str], dict[str, float | str]]


def _intensity(clause: str) -> float:
    if re.search(r"\b(?:slightly|a (?:little|bit|touch)|somewhat|subtly|a tad|gently)\b", clause):
        return 0.5
    if re.search(
        r"\b(?:a lot|much|very|really|significantly|dramatically|strongly|way|"
        r"heavily|extremely)\b",
        clause,
    ):
        return 2.0
    return 1.0


def _percent(clause: str) -> float | None:
    match = re.search(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", clause)
    return float(match.group(1)) / 100 if match else None


_DECREASE = re.compile(r"\b(?:less|reduce|decrease|lower|lessen|tone down|soften|flatten|drop)\b")


def _brightness(clause: str) -> dict[str, float | str]:
    darker = re.search(r"\b(?:dark(?:er|en)?|dim(?:mer)?|dimmed)\b", clause) or _DECREASE.search(
        clause
    )
    amount = _percent(clause) or 0.25 * _intensity(clause)
    return {"amount": round(-min(amount, 0.95) if darker else amount, 3)}


def _contrast(clause: str) -> dict[str, float | str]:
    amount = _percent(clause) or 0.3 * _intensity(clause)
    return {"amount": round(-min(amount, 0.9) if _DECREASE.search(clause) else amount, 3)}


def _blur(clause: str) -> dict[str, float | str]:
    pixels = re.search(r"(\d+(?:\.\d+)?)\s*(?:px|pixels?)\b", clause)
    sigma = float(pixels.group(1)) if pixels else 4.0 * _intensity(clause)
    return {"sigma": min(max(sigma, 0.3), 100.0)}


def _rotate(clause: str) -> dict[str, float | str]:
    if re.search(r"\bupside[ -]?down\b", clause):
        return {"degrees": 180.0}
    number = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:°|deg(?:rees?)?\b)?", clause)
    degrees = float(number.group(1)) if number else 90.0
    if re.search(r"\b(?:counter[ -]?clockwise|anti[ -]?clockwise|left|ccw)\b", clause):
        degrees = -degrees
    return {"degrees": degrees % 360}


def _flip(clause: str) -> dict[str, float | str]:
    vertical = re.search(r"\b(?:vertical(?:ly)?|upside[ -]?down|top to bottom)\b", clause)
    return {"direction": "vertical" if vertical else "horizontal"}


_RULES = (
    _Rule(
        "grayscale",
        re.compile(
            r"\b(?:black_and_white|b\s*&\s*w|b/w|gr[ae]y\s*-?scale|monochrome|mono|"
            r"desaturated?|remove (?:the |all )?colou?rs?|no colou?rs?|colou?rless|"
            r"without colou?rs?|noir)\b"
        ),
        lambda _clause: {},
    ),
    _Rule("flip", re.compile(r"\b(?:flip(?:ped)?|mirror(?:ed)?)\b"), _flip),
    _Rule(
        "rotate",
        re.compile(
            r"\b(?:rotate[ds]?|spin)\b|\bupside[ -]?down\b|\bturn(?:ed)?\b(?=.*\b(?:\d+|left|"
            r"right|clockwise|counter|anti|sideways|degrees?)\b)"
        ),
        _rotate,
    ),
    _Rule("contrast", re.compile(r"\bcontrast(?:y)?\b|\bpunch(?:y|ier)?\b"), _contrast),
    _Rule(
        "brightness",
        re.compile(
            r"\b(?:bright(?:er|en|ness)?|lighten|lighter|dark(?:er|en)?|dim(?:mer)?|dimmed)\b"
        ),
        _brightness,
    ),
    _Rule(
        "blur",
        re.compile(r"\b(?:blur(?:ry|red)?|defocus(?:ed)?|out of focus|soft(?:en|er)?)\b"),
        _blur,
    ),
)


def parse_prompt(prompt: str) -> EditPlan:
    text = _BLACK_AND_WHITE.sub("black_and_white", prompt.lower().replace("\u2019", "'"))
    steps: list[Step] = []
    unknown: list[str] = []
    for clause in (c.strip() for c in _CLAUSE_SPLIT.split(text)):
        if not clause or not _FILLER.sub("", clause).strip(" '\"-"):
            continue
        rule = (
            None
            if _OUT_OF_REACH.search(clause)
            else next((r for r in _RULES if r.pattern.search(clause)), None)
        )
        if rule is None:
            unknown.append(clause)
        else:
            steps.append(Step(rule.operation, rule.params(clause), clause))
    if unknown or not steps:
        raise PromptNotUnderstood(unknown or [prompt.strip()])
    return EditPlan(tuple(steps))
