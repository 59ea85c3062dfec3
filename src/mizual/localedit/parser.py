"""Reads an English instruction as an edit plan, clause by clause.

The prompt is normalised (`words.normalise`: lower case, numbers as digits, "black and white" as
one word) and split into clauses at "then", "and", commas and the like. Clauses that only share
words are joined up again (`_joined`): "increase the brightness and contrast" is two increases,
"rotate it, clockwise" one rotation. Each clause is then read by the first rule that claims it:

1. a negated clause ("don't change the colours") is dropped;
2. a generative verb (replace, swap, generate, extend ...) refuses the clause;
3. background and subject rules ("blur the background", "cut out the subject", "vignette");
4. a clause naming content (the sky, hair, a person, night, a smile) refuses it: changing one
   part of the picture needs a generative editor;
5. the whole-image rules, in `_RULES` order (most specific phrasing first), and again on the
   words the claiming rule left ("high contrast black and white" is two steps);
6. add / put / remove / turn into ... that no rule claimed: refused as generative;
7. anything else is not understood.

A rule is (operation, pattern, extractor): the pattern claims the clause, the extractor (in
`words.py`) reads its parameters or declines with None, letting later rules try. Every step goes
through `validate_step` after its numbers are clamped into the catalogue's ranges. One clause
not understood refuses the whole prompt; the message quotes it and gives examples that work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mizual.localedit import words as w
from mizual.localedit.plan import CATALOGUE, EditPlan, InvalidPlan, Step, validate_step

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
    "Adding, removing or replacing objects, or changing one part of the picture, needs a "
    "generative editor: set BFL_API_KEY to use FLUX"
)
_ABILITIES = (
    "It can change colour, light, detail, size and orientation, apply a sketch, cartoon or "
    "painting style, and blur, darken, grey out or remove the background"
)

Params = w.Params
Steps = w.Steps
N = w.NUMBER


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


# --- Rules ------------------------------------------------------------------------------------

Extract = Callable[[str], "Params | Steps | None"]


@dataclass(frozen=True)
class _Rule:
    operation: str
    pattern: re.Pattern[str]
    extract: Extract
    also: re.Pattern[str] | None  # must match as well
    unless: re.Pattern[str] | None  # must not match
    consumes: re.Pattern[str] | None  # words the extractor used, not to be read again

    def read(self, clause: str) -> Steps | None:
        if not self.pattern.search(clause):
            return None
        if self.also and not self.also.search(clause):
            return None
        if self.unless and self.unless.search(clause):
            return None
        found = self.extract(clause)
        if found is None:
            return None
        return [(self.operation, found)] if isinstance(found, dict) else found

    def rest(self, clause: str) -> str:
        """The clause without the words this rule read: "high contrast" of "high contrast
        black and white", which another rule may claim."""
        for pattern in (self.pattern, self.also, self.consumes):
            if pattern is not None:
                clause = pattern.sub(" ", clause)
        # Numbers were this rule's parameters ("blur 5px" is not also a resize to 5 px wide).
        return " ".join(word for word in clause.split() if not any(c.isdigit() for c in word))


def _rule(
    operation: str,
    pattern: str,
    extract: Extract = w.none,
    *,
    also: str | None = None,
    unless: str | None = None,
    consumes: str | None = None,
) -> _Rule:
    return _Rule(
        operation,
        re.compile(pattern),
        extract,
        re.compile(also) if also else None,
        re.compile(unless) if unless else None,
        re.compile(consumes) if consumes else None,
    )


_BACKGROUND = r"\bbackground\b"
_SUBJECT = r"(?:the |my )?(?:main )?(?:subject|person|people|foreground|object)"
_GREY_WORDS = (
    r"\b(?:black-and-white|gr[ae]y(?:[- ]?scale[ds]?|[- ]?tones?)?|monochrom\w*|mono|"
    r"desaturat\w*|colou?rless|(?:no|without|zero) colou?rs?|(?:remov|drain|strip|tak|suck|"
    r"drop|kill|los|get rid of|eliminat)\w*(?: out| away)? (?:the |all |all the |any |of the )?"
    r"colou?rs?|noir|achromatic)\b"
)
_BLUR_WORDS = (
    r"\b(?:blur\w*|out[- ]of[- ]focus|defocus\w*|soft(?:en\w*|er)?|soft focus|smudg\w*|hazy|"
    r"dreamy|gaussian)\b"
)

# Asks that need new pixels: refused before any rule, whatever else the clause says.
_GENERATIVE_VERBS = _rule(
    "",
    r"\b(?:replac\w*|swap\w*|substitut\w*|insert\w*|generat\w*|outpaint\w*|out-paint\w*|"
    r"inpaint\w*|uncrop\w*|extend\w*|morph\w*|zoom(?:ed|ing)? out|expand\w* (?:the )?"
    r"(?:canvas|frame|scene|borders?|sides?|image|photo|picture))\b",
    unless=r"\b(?:swap|revers)\w* (?:the |all )?colou?rs\b",
)

# The background, the subject and the corners: before the content check, which would refuse
# "background" and "subject".
_REGION_RULES = (
    _rule(
        "desaturate_background",
        r"\bcolou?r[- ]?(?:splash|pop|key)\b|\bselective colou?r\w*|\b(?:subject|person|people|"
        r"foreground) (?:stays? |kept |left |remains? |still )?in colou?r|\bkeep\w* (?:only )?"
        rf"{_SUBJECT} (?:in )?colou?r",
    ),
    _rule("desaturate_background", _GREY_WORDS, also=_BACKGROUND),
    _rule(
        "remove_background",
        r"\b(?:remov\w*|delet\w*|eras\w*|drop|get rid of|take (?:out|away)|strip\w*|lose|"
        r"knock(?:ed)? out|cut\w* (?:out|away)|eliminat\w*|clear|without|no|transparen\w*|"
        r"isolat\w*)\b",
        also=_BACKGROUND,
    ),
    _rule(
        "remove_background",
        r"\btransparen\w*|\bcut-?out\b|\bcut\w* (?:out|around) (?:the |my )?(?:main )?"
        r"(?:subject|person|people|foreground|object|it|him|her|them)\b|\b(?:isolat|extract|"
        rf"separat)\w* {_SUBJECT}\b|\bbackground removal\b",
    ),
    _rule(
        "darken_background",
        r"\b(?:dark\w*|dim|dimmer|black|blacken\w*|shadow\w*|moodier|deeper)\b",
        w.darken_background,
        also=_BACKGROUND,
    ),
    _rule("blur_background", _BLUR_WORDS, w.blur_background, also=_BACKGROUND),
    _rule(
        "blur_background",
        r"\bportrait (?:mode|effect|look|blur)\b|\bbokeh\b|\bshallow (?:depth of field|dof|focus)"
        r"|\bdepth of field\b|\bfocus on the (?:main )?(?:subject|person)\b|\b(?:subject|person) "
        r"(?:stand out|pop)\b",
        w.blur_background,
    ),
    _rule("vignette", r"\bvignett\w*", w.vignette, unless=r"\b(?:remov\w*|no|less|reduc\w*)\b"),
    _rule(
        "vignette",
        r"\b(?:dark\w*|burn\w*|shad\w*|black\w*|dim)\b",
        w.vignette,
        also=r"\b(?:corners?|edges?|borders?|periphery)\b",
    ),
)

# Parts of the picture and changes of content: a generative editor's job.
_CONTENT = re.compile(
    r"\b(?:sky|skies|clouds?|sun|moon|stars?|rainbow|hair|eyes?|eyebrows?|face|faces|skin|"
    r"teeth|tooth|lips?|mouth|nose|beard|moustache|mustache|person|people|man|men|woman|women|"
    r"boy|girl|child|children|kids?|baby|guy|lady|he|she|him|her|his|hers|cat|cats|kitten|dog|"
    r"dogs|puppy|animal|bird|horse|car|cars|tree|trees|house|building|hat|glasses|sunglasses|"
    r"shirt|dress|clothes|outfit|text|logo|watermark|signature|caption|objects?|subject|"
    r"foreground|background|water|sea|ocean|grass|flowers?|mountains?|road|"
    r"night\w*|daytime|day|winter\w*|summer\w*|autumn\w*|snow\w*|rain\w*|sunset|sunrise|dusk|"
    r"dawn|sunny|storm\w*|fog\w*|underwater|smil\w*|laugh\w*|frown\w*|wink\w*|younger|thinner|"
    r"slimmer|fatter|taller|muscular|happier|sadder|bald|tattoo\w*|make-?up|lipstick)\b"
    r"(?!'s\b)(?! (?:photo|picture|pic|image|shot|portrait|selfie)s?\b)"
)
# Verbs of new content, refused only when no rule claimed the clause ("add a vignette" works).
_GENERATIVE_WORDS = re.compile(
    r"\b(?:add\w*|put|place|insert|include|draw|paint|give|remov\w*|eras\w*|delet\w*|get rid|"
    r"take (?:out|away)|hide|edit out|clone|into|look like|looks like|chang\w*|transform\w*|"
    r"creat\w*|fill)\b"
)

_RULES = (
    # Styles first: "turn it into a pencil sketch" is not a rotation, "black and white pencil
    # drawing" is a sketch.
    _rule(
        "sketch",
        r"\b(?:sketch\w*|pencil\w*|charcoal|line[- ]?(?:art|drawing)|drawings?|drawn|pen-and-ink|"
        r"ink drawing|crosshatch\w*|hatching|doodle)\b",
        consumes=_GREY_WORDS,  # a sketch is grey already
    ),
    _rule(
        "cartoon",
        r"\b(?:cartoon\w*|comic\w*|anime|manga|toon\w*|cel[- ]?shad\w*|pixar|disney|animated)\b",
    ),
    _rule(
        "painting",
        r"\b(?:painting|paintings|painted|painterly|paint (?:it|effect|style|look|filter)|"
        r"(?:oil|acrylic)(?: paint\w*)?|watercolou?r\w*|impressionis\w*|gouache|van gogh|monet|"
        r"brush ?strokes?|artistic)\b",
    ),
    # Before auto levels ("4 levels") and saturation ("8 colours").
    _rule(
        "posterize",
        rf"\b(?:posteri[sz]\w*|poster(?: effect| look| style)?|pop art|number of colou?rs)\b|"
        rf"{N} (?:colou?r |tone |grey |gray )?(?:levels|tones|shades|colou?rs)\b",
        w.posterize,
    ),
    # "Fix the exposure" and "enhance the lighting" stretch the tones; before exposure/brightness.
    _rule(
        "auto_levels",
        r"\bauto[- ]?(?:levels?|enhance\w*|contrast|tones?|fix\w*|correct\w*|adjust\w*|colou?rs?|"
        r"balance|white balance)\b|\bautomatic(?:ally)? (?:enhance\w*|levels?|fix\w*|correct\w*)\b"
        r"|\blevels\b|\bnormali[sz]\w*|\b(?:stretch|equali[sz])\w* (?:the )?(?:histogram|tones|"
        r"levels|contrast|range)\b|\bhistogram\b|\bwhite balance\b|\bcolou?r (?:cast|balance|"
        r"correct\w*)\b|\b(?:fix|correct|improv|enhanc|balanc|adjust|repair|optimi[sz]|sort out|"
        r"even out)\w* (?:the |my )?(?:exposure|lighting|light|tones?|tonal range|levels|dynamic "
        r"range)\b|\b(?:fix|correct|balanc|repair)\w* (?:the |my )?(?:colou?rs?|brightness|"
        r"contrast)\b",
    ),
    _rule(
        "auto_levels",
        r"\b(?:enhanc\w*|improv\w*|fix\w*|optimi[sz]\w*|correct|better|auto|retouch|polish|nicer)",
        w.auto_levels_alone,
    ),
    _rule(
        "exposure",
        rf"\b(?:exposure|expos(?:e|ed|ing)|underexpos\w*|overexpos\w*|half a stop)\b|{N} ?(?:stops?"
        rf"|ev|f-?stops?)\b|\bev ?{N}",
        w.exposure,
        consumes=r"\b(?:bright\w*|dark\w*|lighter|dim\w*)\b",  # "one stop brighter"
    ),
    _rule(
        "pixelate",
        r"\b(?:pixel(?:ate\w*|ise\w*|ize\w*|late\w*|lat\w*)|pixel[- ]?art|pixel(?:ated|y)? "
        r"(?:look|style|effect)|\d+-?bit|mosaic|blocky|retro game\w*|censor\w*)\b",
        w.pixelate,
    ),
    _rule(
        "invert",
        r"\b(?:invert\w*|negative|inverse|(?:revers|flip|swap)\w* (?:the |all |all the )?"
        r"colou?rs?)\b",
    ),
    _rule("sepia", r"\b(?:sepia\w*|brown(?:ish)?(?:[- ]?ton\w*| tint\w*)?|browner)\b", w.sepia),
    _rule("grayscale", _GREY_WORDS, w.grayscale),
    # Before vintage, which would take "instagram filter" but not "instagram portrait".
    _rule(
        "crop",
        rf"\b(?:crop\w*|trim\w*|square|aspect|ratio|wide-?screen|wide screen|ultra-?wide|"
        rf"cinemascope|anamorphic|letterbox\w*|panoram\w*|instagram|stor(?:y|ies)|reels?|tiktok|"
        rf"portrait|landscape|golden ratio)\b|{N} ?(?::|/|x|by) ?{N}",
        w.crop,
        unless=r"\binstagram filter\b",
    ),
    _rule(
        "vintage",
        r"\b(?:vintage|retro|old(?:[- ]fashioned|[- ]school|er)?|film (?:look|style|photo|effect|"
        r"simulation|emulation|stock)|(?:analog|analogue) (?:film|look|photo|style)|faded?|"
        r"polaroid|(?:19)?[5-9]0'?s|antique|aged|nostalgic|kodachrome|lomo\w*|instagram filter)\b",
        unless=r"\bfade (?:out )?(?:the )?colou?rs?\b",
    ),
    _rule(
        "temperature",
        r"\b(?:warm\w*|golden|cool\w*|cold\w*|bluer|blu(?:e|ish) (?:tones?|tint|cast|hue|filter)|"
        r"more (?:blue|orange|yellow)|orange\w*|yellow\w*|icy|frosty|chilly|tungsten|"
        r"(?:colou?r )?temperature|sunnier)\b",
        w.temperature,
    ),
    _rule("vibrance", r"\bvibran\w*", w.vibrance),
    # "Colour" alone ("change the colours") is not enough: it needs a word saying which way.
    _rule(
        "saturation",
        r"\b(?:saturat\w*|oversaturat\w*|undersaturat\w*|colou?rful\w*|vivid\w*|colou?rs?|"
        r"pastel\w*|muted)\b",
        w.saturation,
        also=r"\b(?:saturat\w*|oversaturat\w*|undersaturat\w*|colou?rful\w*|vivid\w*|pastel\w*|"
        r"mut\w*|boost\w*|enhanc\w*|intensif\w*|increas\w*|rich\w*|deep\w*|pump\w*|punch\w*|amp"
        r"\w*|more|strong\w*|bright\w*|bold\w*|pop\w*|tone down|reduc\w*|lower\w*|soft\w*|dull\w*|"
        r"wash\w*|fad\w*|weak\w*|calm\w*|less|fewer|subdued|pale\w*|improv\w*|rais\w*)\b",
    ),
    _rule(
        "contrast",
        r"\b(?:contrast\w*|punch\w*|flatten\w*|flatter|dramatic|more depth|crush(?:ed)? (?:the )?"
        r"blacks|deeper blacks|pop)\b",
        w.contrast,
    ),
    _rule(
        "brightness",
        r"\b(?:bright\w*|lighten\w*|lighter|lightness|more light|light (?:it )?up|dark\w*|dim|"
        r"dimmer|dimmed|less light|mood(?:y|ier))\b",
        w.brightness,
    ),
    # Before blur and sharpen: "remove the noise", "soften the grain".
    _rule(
        "denoise",
        r"\b(?:de-?nois\w*|nois\w*|grain\w*|speckl\w*|artifacts?|artefacts?)\b",
        w.denoise,
        also=r"\b(?:reduc\w*|remov\w*|less|clean\w*|fix\w*|cut|lower\w*|eliminat\w*|suppress\w*|"
        r"minimi[sz]\w*|rid|too|no|without|kill|smooth\w*|de-?nois\w*|noisy|grainy|clear\w*)\b",
        unless=r"\badd\w*\b",
    ),
    # "Less sharp" is a gentle blur; "it's blurry" is a complaint asking for sharpening.
    _rule(
        "blur",
        r"\b(?:less|reduc\w*|lower\w*|decreas\w*|soften\w*|too) (?:the )?(?:sharp\w*|crisp\w*)\b|"
        r"\bover-?sharpen\w*",
        w.gentle_blur,
    ),
    _rule(
        "sharpen",
        r"\b(?:blurr(?:y|ed)|out[- ]of[- ]focus|fuzzy|unfocused|soft|shaky|motion blur)\b",
        w.sharpen,
        also=r"\b(?:it'?s|is|was|are|looks?|seems?|too|got|came out)\b",
        unless=r"\b(?:make|turn|want|like|should|blur|add)\b",
    ),
    _rule(
        "sharpen",
        r"\b(?:sharp\w*|crisp\w*|clear|clearer|clarity|clear up|unblur\w*|deblur\w*|de-blur\w*|"
        r"in focus|focus\w*|detail\w*|defined|definition|(?:less|reduc\w*|remov\w*|fix\w*|"
        r"get rid of) (?:the )?(?:blur\w*|softness|fuzz\w*))\b",
        w.sharpen,
        unless=r"\bout[- ]of[- ]focus\b",
    ),
    _rule("blur", _BLUR_WORDS, w.blur),
    _rule(
        "resize",
        rf"\b(?:resiz\w*|re-?scal\w*|scal(?:e|ed|ing)|upscal\w*|upsampl\w*|downscal\w*|"
        rf"downsampl\w*|down-?siz\w*|up-?siz\w*|enlarg\w*|shrink\w*|smaller|bigger|larger|double|"
        rf"doubled|twice|triple|tripled|half|halve|halved|quarter|third|thumbnail|width|height|"
        rf"wide|tall|high|1080p|720p|4k|uhd|2k|hd|fhd|size|dimensions?)\b|{N} ?(?:px|pixels?|x\b)"
        rf"|\bx ?\d|{N} ?(?:x|by) ?{N}",
        w.resize,
        unless=r"\b(?:quarter|half)[- ]turn\b",  # a rotation
    ),
    # Before rotate: "flip upside down" is a vertical flip, "upside down" alone a half turn.
    _rule(
        "flip",
        r"\b(?:flip\w*|mirror\w*|reflect\w*|revers\w* (?:it )?(?:left-and-right|horizontally|"
        r"vertically))\b",
        w.flip,
        consumes=r"\bupside[- ]?down\b",  # a vertical flip, not also a half turn
    ),
    _rule(
        "rotate",
        r"\b(?:rotat\w*|spin\w*|tilt\w*|upside[- ]?down|turn\w*)\b|\b(?:quarter|half)[- ]turn",
        w.rotate,
    ),
)

# --- Clauses ----------------------------------------------------------------------------------

_LEAD = re.compile(r"^(?:(?:please|and|but|also|just|so|oh|ok|okay|then|though|however) )+")
_NEGATED = re.compile(
    r"^(?:(?:i|we) )?(?:do not|don'?t|dont|does not|doesn'?t|never|no need to|not|avoid\w*|"
    r"leave|make sure (?:it'?s |it is |that )?(?:not|no)|without(?! (?:any |the |a |all )?"
    r"(?:colou?rs?|background))|keep\w*(?! (?:only )?(?:the |my )?(?:main )?(?:subject|person|"
    r"people|foreground))|no(?! (?:colou?rs?|background|noise|grain\w*)\b))\b"
)
_CARRY_VERBS = w.word_set(
    """increase decrease reduce raise lower boost add remove flip mirror rotate sharpen blur
    darken brighten lighten enhance improve fix adjust bump crank pump tone dial cut drop more
    less desaturate saturate invert crop resize scale erase delete amplify intensify strengthen
    weaken soften turn mute lift deepen warm cool"""
)
_NOUN_PHRASE = re.compile(r"(?:the|a|an|some|all) ")
_PARTICLES = frozenset({"up", "down", "out", "back"})
_CARRY_NOUNS = w.word_set(
    """brightness contrast saturation exposure vibrance warmth temperature sharpness clarity
    detail details noise grain colour colours color colors blur background highlights shadows
    vignette"""
)


def _verb_of(clause: str) -> str | None:
    """The verb of a clause: "turn down" of "turn down the contrast"."""
    meaningful = w.words(clause)
    if not meaningful or meaningful[0] not in _CARRY_VERBS:
        return None
    if len(meaningful) > 1 and meaningful[1] in _PARTICLES:
        return f"{meaningful[0]} {meaningful[1]}"
    return meaningful[0]


def _joined(found: list[w.Clause]) -> list[str]:
    """Clauses with what they share restored: "increase the brightness and contrast" is two
    increases, "rotate it, clockwise" one rotation, "blur and darken the background" two
    background edits."""
    texts: list[str] = []
    verbs: list[str | None] = []
    for clause in found:
        text = clause.text
        meaningful = w.words(text)
        if not meaningful:
            continue  # "thanks", "for me", "please"
        verb = verbs[-1] if verbs else None
        glued = f"{clause.separator} {text}".strip()
        if texts and w.is_detail(text) and (clause.joined_by_comma or verb is None):
            texts[-1] = f"{texts[-1]} {glued}"
            continue
        if texts and clause.joined_by_comma and _GENERATIVE_VERBS.read(texts[-1]) is not None:
            texts[-1] = f"{texts[-1]} {glued}"  # "replace the sky with a sunset": one refusal
            continue
        if verb and (
            w.is_detail(text) or meaningful[0] in _CARRY_NOUNS or _NOUN_PHRASE.match(text)
        ):
            text = f"{verb} {text}"
        texts.append(text)
        verbs.append(_verb_of(text))
    for index, text in enumerate(texts[:-1]):
        single_verb = len(w.words(text)) == 1 and w.words(text)[0] in _CARRY_VERBS
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


def _read(clause: str) -> _Reading:
    if _NEGATED.search(_LEAD.sub("", clause)) and "enough" not in clause:
        return _Reading([])  # "but don't change the colours": nothing to do
    if _GENERATIVE_VERBS.read(clause) is not None:
        return _Reading([], generative=True, understood=False)
    if _HUGE_NUMBER.search(clause):  # too long to be read: not silently taken as a default
        return _Reading([], hint="a number in it is far too large", understood=False)
    try:
        for rule in _REGION_RULES:
            steps = rule.read(clause)
            if steps is not None:
                return _Reading(steps)
        if _CONTENT.search(clause):
            hint = None
            if "background" in clause:
                hint = "for the background it can only blur, darken, grey out or remove it"
            return _Reading([], generative=True, hint=hint, understood=False)
        steps = _read_whole_image(clause)
        if steps:
            return _Reading(steps)
    except w.Hint as hint:
        return _Reading([], hint=str(hint), understood=False)
    return _Reading([], generative=bool(_GENERATIVE_WORDS.search(clause)), understood=False)


def _read_whole_image(clause: str) -> Steps:
    """The whole-image rules, and again on what the first left over, so that "high contrast
    black and white" is two steps, not one with the contrast silently dropped."""
    steps: Steps = []
    used: set[str] = set()  # one step per operation and clause: leftovers add, never repeat
    text = clause
    while len(used) < _PER_CLAUSE and w.words(text):
        for rule in _RULES:
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


# Asked twice in a row, these mean one step whatever their words: a second would only overdo it.
_ONCE = frozenset(
    {
        "grayscale",
        "auto_levels",
        "remove_background",
        "desaturate_background",
        "vintage",
        "sketch",
        "cartoon",
        "painting",
    }
)


_AGAIN = re.compile(r"\b(?:again|another|twice|once more|even more)\b")


def _same_ask(previous: Step, step: Step) -> bool:
    """Two neighbouring steps that are one ask in two words. Steps with numbers of their own
    ("rotate 90 degrees, then 90 degrees more") or "again" are meant twice."""
    if previous.operation != step.operation:
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
    for clause in _joined(w.clauses(w.normalise(prompt))):
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
                step = validate_step(operation, _clamped(operation, params), clause)
            except InvalidPlan as exc:  # a value no clamp can mend, such as a zero size
                unknown.append(clause)
                hints.append(str(exc))
                continue
            if steps and _same_ask(steps[-1], step):
                continue  # "crisp and clear", "old and faded": one step, not twice as strong
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
