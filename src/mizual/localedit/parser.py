"""Reads an English instruction as an edit plan, clause by clause.

The prompt is normalised (`text.normalise`: lower case, numbers as digits, "black and white" as
one word) and split into clauses at "then", "and", commas and the like. Clauses that only share
words are joined up again (`_joined`): "increase the brightness and contrast" is two increases,
"rotate it, clockwise" one rotation. Each clause is then read by the first rule that claims it:

1. a negated clause ("don't change the colours") is dropped;
2. a generative verb (replace, swap, generate, extend ...) refuses the clause;
3. background, subject and face rules ("blur the background", "cut out the subject", "vignette",
   "blur the faces");
4. a clause naming a part of the photo ("darken the top half", "brighten her face"): the
   whole-image rules read the rest of it, and their steps apply to that part (`parts.py`);
5. a clause naming content (the sky, hair, a person, night, a smile) refuses it: changing one
   part of the picture needs a generative editor;
6. the whole-image rules, in `WHOLE_IMAGE_RULES` order (most specific phrasing first), and again
   on the words the claiming rule left ("high contrast black and white" is two steps);
7. add / put / remove / turn into ... that no rule claimed: refused as generative;
8. anything else is not understood.

The rules are in `rules.py`, the readers of each operation's parameters in `readers/`. Every
step goes through `validate_step` after its numbers are clamped into the catalogue's ranges. One
clause not understood refuses the whole prompt; the message quotes it and gives examples that
work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mizual.localedit.operations import REGIONAL
from mizual.localedit.parts import BACKGROUND, FACES, PEOPLE, SKY
from mizual.localedit.plan import CATALOGUE, EditPlan, InvalidPlan, Step, validate_step
from mizual.localedit.readers import Hint, Params, Steps
from mizual.localedit.rules import (
    CONTENT,
    GENERATIVE_VERBS,
    GENERATIVE_WORDS,
    REGION_RULES,
    WHOLE_IMAGE_RULES,
)
from mizual.localedit.text import Clause, clauses, is_detail, normalise, word_set, words

EXAMPLES = (
    "make it black and white",
    "make it a bit brighter",
    "rotate 90 degrees clockwise",
    "blur the background",
    "crop to 16:9",
)
MAX_STEPS = 12  # more edits than this in one prompt is a mistake or an abuse
_PER_CLAUSE = 3  # "a warm, faded, high contrast look" without commas
_GENERATIVE = (
    "Adding, removing or replacing objects, or changing what is in the picture, needs a "
    "generative editor: set BFL_API_KEY to use FLUX"
)
_ABILITIES = (
    "It can change colour, light, detail, size and orientation, straighten a tilted photo, fix a "
    "colour cast, apply a sketch, cartoon or painting style, blur, darken, grey out or remove the "
    "background, blur or pixelate faces, remove red eye, and change only the faces, the people, "
    "the sky, the background or one half of the photo"
)


class PromptNotUnderstood(Exception):
    """The prompt (or one clause of it) is not something the rules can do; str is for people."""

    def __init__(
        self, unknown: list[str], *, generative: bool = False, hints: Sequence[str] = ()
    ) -> None:
        shown = [f"'{_shorten(text)}'" for text in unknown[:3] if text]
        if len(unknown) > 3:
            shown.append(f"{len(unknown) - 3} more")
        quoted = ", ".join(shown) if shown else "an empty prompt"
        sentences = [f"The offline editor did not understand {quoted}"]
        sentences += [hint[:1].upper() + hint[1:] for hint in dict.fromkeys(hints)]
        if generative:
            sentences += [_GENERATIVE, _ABILITIES]
        else:
            sentences.append(_ABILITIES + ", but it cannot add, remove or replace objects")
        sentences.append("Try for example: " + "; ".join(f"'{e}'" for e in EXAMPLES))
        super().__init__(". ".join(sentences) + ".")
        self.unknown = unknown
        self.generative = generative


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# --- Clauses ----------------------------------------------------------------------------------

_LEAD = re.compile(r"^(?:(?:please|and|but|also|just|so|oh|ok|okay|then|though|however) )+")
_NEGATED = re.compile(
    r"^(?:(?:i|we) )?(?:do not|don'?t|dont|does not|doesn'?t|never|no need to|not|avoid\w*|"
    r"leave|make sure (?:it'?s |it is |that )?(?:not|no)|without(?! (?:any |the |a |all )?"
    r"(?:colou?rs?|background))|keep\w*(?! (?:only )?(?:the |my )?(?:main )?(?:subject|person|"
    r"people|foreground))|no(?! (?:colou?rs?|background|noise|grain\w*)\b))\b"
)
_CARRY_VERBS = word_set(
    """increase decrease reduce raise lower boost add remove flip mirror rotate sharpen blur
    darken brighten lighten enhance improve fix adjust bump crank pump tone dial cut drop more
    less desaturate saturate invert crop resize scale erase delete amplify intensify strengthen
    weaken soften turn mute lift deepen warm cool"""
)
_NOUN_PHRASE = re.compile(r"(?:the|a|an|some|all) ")
_PARTICLES = frozenset({"up", "down", "out", "back"})
_CARRY_NOUNS = word_set(
    """brightness contrast saturation exposure vibrance warmth temperature sharpness clarity
    detail details noise grain colour colours color colors blur background highlights shadows
    vignette sky clouds"""
)


def _verb_of(clause: str) -> str | None:
    """The verb of a clause: "turn down" of "turn down the contrast"."""
    meaningful = words(clause)
    if not meaningful or meaningful[0] not in _CARRY_VERBS:
        return None
    if len(meaningful) > 1 and meaningful[1] in _PARTICLES:
        return f"{meaningful[0]} {meaningful[1]}"
    return meaningful[0]


def _joined(found: list[Clause]) -> list[str]:
    """Clauses with what they share restored: "increase the brightness and contrast" is two
    increases, "rotate it, clockwise" one rotation, "blur and darken the background" two
    background edits."""
    texts: list[str] = []
    verbs: list[str | None] = []
    for clause in found:
        text = clause.text
        meaningful = words(text)
        if not meaningful:
            continue  # "thanks", "for me", "please"
        verb = verbs[-1] if verbs else None
        glued = f"{clause.separator} {text}".strip()
        if texts and is_detail(text) and (clause.joined_by_comma or verb is None):
            texts[-1] = f"{texts[-1]} {glued}"
            continue
        if texts and clause.joined_by_comma and GENERATIVE_VERBS.read(texts[-1]) is not None:
            texts[-1] = f"{texts[-1]} {glued}"  # "replace the sky with a sunset": one refusal
            continue
        if verb and (is_detail(text) or meaningful[0] in _CARRY_NOUNS or _NOUN_PHRASE.match(text)):
            text = f"{verb} {text}"
        texts.append(text)
        verbs.append(_verb_of(text))
    for index, text in enumerate(texts[:-1]):
        single_verb = len(words(text)) == 1 and words(text)[0] in _CARRY_VERBS
        if single_verb and "background" in texts[index + 1]:
            texts[index] = f"{text} the background"
    return texts


# --- Reading ----------------------------------------------------------------------------------


_HUGE_NUMBER = re.compile(r"\d{8}")


@dataclass
class _Reading:
    steps: Steps
    generative: bool = False
    hint: str | None = None
    understood: bool = True
    region: str | None = None  # the part of the photo the steps apply to (parts.PARTS)


# A half of the photo: "the top half", "the left side", "the lower part of the image", "the top".
_HALF = re.compile(
    r"\b(?:the |its |this |my )?(?P<side>top|upper|bottom|lower|left|right)(?:[- ]hand)?"
    r"(?:(?:[- ](?:half|side|part|portion|area))(?: (?:of|in) (?:the |this |my )?(?:photo|image|"
    r"picture|pic|frame|shot|it))?| (?:of|in) (?:the |this |my )?(?:photo|image|picture|pic|"
    r"frame|shot))\b|\bthe (?P<end>top|bottom)\b"
)
_SIDES = {"top": "top", "upper": "top", "bottom": "bottom", "lower": "bottom"}
_FACES = re.compile(
    r"\b(?:(?:the|her|his|their|my|our|your|all|every|each|everyone'?s|everybody'?s|people'?s|"
    r"person'?s) )*faces?\b(?: (?:in|of) (?:the |this |my )?(?:photo|image|picture|pic|shot))?"
)


_PEOPLE = re.compile(
    r"\b(?:(?:the|this|that|these|those|every|each|all|all the|both) )*(?:(?:main|only) )?"
    r"(?:person|people|persons|man|men|woman|women|boy|boys|girl|girls|child|children|kids?|"
    r"guy|guys|lady|ladies|figures?)\b(?: (?:in|of) (?:the |this |my )?(?:photo|image|picture|"
    r"pic|shot))?"
)


_SKY = re.compile(
    r"\b(?:the |its |this |that |my )?(?:(?:sky|skies)(?: and (?:the )?clouds)?|clouds)\b"
    r"(?: (?:of|in) (?:the |this |my )?(?:photo|image|picture|pic|shot))?"
)
# A dramatic sky is a darker, deeper one: "more dramatic" on the whole photo is more contrast,
# which would clip a bright sky to white. Per 0.3 of that contrast: darker, then some contrast,
# then more colour.
_DRAMATIC = re.compile(r"\bdramatic\w*\b")
_DRAMATIC_SKY = (("brightness", -0.2), ("contrast", 0.15), ("saturation", 0.3))


_BACKGROUND_PART = re.compile(
    r"\b(?:the |its |my |this )?background\b(?: (?:of|in) (?:the |this |my )?(?:photo|image|"
    r"picture|pic|shot))?"
)
_BACKGROUND_HINT = (
    "for the background it can change light, colour, detail or style, or blur, darken, grey "
    "out or remove it"
)


def _part_of(clause: str) -> tuple[str, str] | None:
    """The part of the photo a clause names, and the clause without it: ("top half",
    "darken") of "darken the top half"."""
    half = _HALF.search(clause)
    if half is not None:
        side = half.group("side") or half.group("end")
        rest = f"{clause[: half.start()]} {clause[half.end() :]}"
        return f"{_SIDES.get(side, side)} half", " ".join(rest.split())
    parts = ((_FACES, FACES), (_PEOPLE, PEOPLE), (_SKY, SKY), (_BACKGROUND_PART, BACKGROUND))
    for pattern, part in parts:
        named = pattern.search(clause)
        if named is not None:
            rest = f"{clause[: named.start()]} {clause[named.end() :]}"
            return part, " ".join(rest.split())
    return None


def _read_on_part(part: str, rest: str) -> _Reading:
    """What to do to one part of the photo: the whole-image rules on the rest of the clause."""
    if CONTENT.search(rest):  # "make the sky in the top half bluer"
        return _Reading([], generative=True, understood=False)
    steps = _read_whole_image(rest)
    if not steps:  # "remove the person on the left": new content
        hint = _BACKGROUND_HINT if part == BACKGROUND else None
        generative = bool(GENERATIVE_WORDS.search(rest))
        return _Reading([], generative=generative, hint=hint, understood=False)
    whole = [operation for operation, _ in steps if operation not in REGIONAL]
    if whole:
        hint = (
            f"{whole[0]} applies to the whole photo: only changes of light, colour, detail or "
            f"style can be made to {'the ' if part not in (FACES, PEOPLE) else ''}{part}"
        )
        return _Reading([], hint=hint, understood=False)
    if part == SKY and _DRAMATIC.search(rest) and [op for op, _ in steps] == ["contrast"]:
        strength = float(steps[0][1].get("amount", 0.3)) / 0.3
        steps = [(op, {"amount": amount * strength}) for op, amount in _DRAMATIC_SKY]
    return _Reading(steps, region=part)


def _read(clause: str) -> _Reading:
    if _NEGATED.search(_LEAD.sub("", clause)) and "enough" not in clause:
        return _Reading([])  # "but don't change the colours": nothing to do
    if GENERATIVE_VERBS.read(clause) is not None:
        return _Reading([], generative=True, understood=False)
    if _HUGE_NUMBER.search(clause):  # too long to be read: not silently taken as a default
        return _Reading([], hint="a number in it is far too large", understood=False)
    try:
        for rule in REGION_RULES:
            steps = rule.read(clause)
            if steps is not None:
                return _Reading(steps)
        part = _part_of(clause)
        if part is not None:
            return _read_on_part(*part)
        if CONTENT.search(clause):
            hint = _BACKGROUND_HINT if "background" in clause else None
            return _Reading([], generative=True, hint=hint, understood=False)
        steps = _read_whole_image(clause)
        if steps:
            return _Reading(steps)
    except Hint as hint:
        return _Reading([], hint=str(hint), understood=False)
    return _Reading([], generative=bool(GENERATIVE_WORDS.search(clause)), understood=False)


def _read_whole_image(clause: str) -> Steps:
    """The whole-image rules, and again on what the first left over, so that "high contrast
    black and white" is two steps, not one with the contrast silently dropped."""
    steps: Steps = []
    used: set[str] = set()  # one step per operation and clause: leftovers add, never repeat
    text = clause
    while len(used) < _PER_CLAUSE and words(text):
        for rule in WHOLE_IMAGE_RULES:
            found = None if rule.operation in used else rule.read(text)
            if found is not None:
                steps += [step for step in found if step[0] not in used]
                used |= {rule.operation, *(operation for operation, _ in found)}
                text = rule.rest(text)
                break
        else:
            break  # words no rule reads ("look", "a touch of") are left
    return steps


def _clamped(operation: str, params: Params) -> Params:
    """Numbers brought into the catalogue's ranges ("brighten by 500%" is the most it can)."""
    spec = CATALOGUE[operation].params
    clamped: Params = {}
    for name, value in params.items():
        param = spec.get(name)
        if param is not None and isinstance(value, float | int) and param.kind != "choice":
            number = float(value)
            if param.minimum is not None:
                number = max(number, param.minimum)
            if param.maximum is not None:
                number = min(number, param.maximum)
            value = round(number) if param.kind == "int" else round(number, 3)
        clamped[name] = value
    return clamped


# Asked twice in a row, these mean one step whatever their words (their declaration says so).
_ONCE = frozenset(name for name, operation in CATALOGUE.items() if operation.once)

_AGAIN = re.compile(r"\b(?:again|another|twice|once more|even more)\b")


def _same_ask(previous: Step, step: Step) -> bool:
    """Two neighbouring steps that are one ask in two words. Steps with numbers of their own
    ("rotate 90 degrees, then 90 degrees more") or "again" are meant twice."""
    if previous.operation != step.operation or previous.region != step.region:
        return False
    if step.operation in _ONCE:
        return True
    numbered = any(c.isdigit() for c in previous.source + step.source)
    return previous.params == step.params and not numbered and not _AGAIN.search(step.source)


def parse_prompt(prompt: str) -> EditPlan:
    """The prompt as an ordered plan, or PromptNotUnderstood saying what was not understood."""
    steps: list[Step] = []
    unknown: list[str] = []
    hints: list[str] = []
    generative = False
    for clause in _joined(clauses(normalise(prompt))):
        reading = _read(clause)
        clause = clause.replace("-and-", " and ")  # shown to people as they would write it
        generative = generative or reading.generative
        if reading.hint:
            hints.append(reading.hint)
        if not reading.understood:
            unknown.append(clause)
            continue
        for operation, params in reading.steps:
            try:
                step = validate_step(
                    operation, _clamped(operation, params), clause, region=reading.region
                )
            except InvalidPlan as exc:  # a value no clamp can mend, such as a zero size
                unknown.append(clause)
                hints.append(str(exc))
                continue
            if steps and _same_ask(steps[-1], step):
                continue  # "crisp and clear", "old and faded": one step, not twice as strong
            if CATALOGUE[step.operation].subject_aware and any(
                _same_ask(earlier, step) for earlier in steps
            ):
                continue  # "a portrait photo with a soft background": the background once
            steps.append(step)
    if unknown:
        raise PromptNotUnderstood(unknown, generative=generative, hints=hints)
    if not steps:
        raise PromptNotUnderstood([prompt.strip()])
    if len(steps) > MAX_STEPS:
        raise PromptNotUnderstood(
            [prompt.strip()], hints=[f"it does at most {MAX_STEPS} edits in one prompt"]
        )
    return EditPlan(tuple(steps))
