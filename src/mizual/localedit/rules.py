"""The rules that decide which operation a clause asks for.

A rule is (operation, pattern, reader): the pattern claims the clause, the reader (in
`readers/`) turns it into the operation's parameters or declines with None, letting later rules
try. `also` must match as well, `unless` must not, and `consumes` names words the reader used
that no later rule should read again. The order of each table is the order rules are tried in,
the most specific phrasing first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mizual.localedit.readers import Params, Steps, adjustments, geometry, none
from mizual.localedit.readers.quantities import N

Reader = Callable[[str], "Params | Steps | None"]


@dataclass(frozen=True)
class Rule:
    operation: str
    pattern: re.Pattern[str]
    reader: Reader
    also: re.Pattern[str] | None  # must match as well
    unless: re.Pattern[str] | None  # must not match
    consumes: re.Pattern[str] | None  # words the reader used, not to be read again

    def read(self, clause: str) -> Steps | None:
        if not self.pattern.search(clause):
            return None
        if self.also and not self.also.search(clause):
            return None
        if self.unless and self.unless.search(clause):
            return None
        found = self.reader(clause)
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
    reader: Reader = none,
    *,
    also: str | None = None,
    unless: str | None = None,
    consumes: str | None = None,
) -> Rule:
    return Rule(
        operation,
        re.compile(pattern),
        reader,
        re.compile(also) if also else None,
        re.compile(unless) if unless else None,
        re.compile(consumes) if consumes else None,
    )


_BACKGROUND = r"\bbackground\b"
_SUBJECT = r"(?:the |my )?(?:main )?(?:subject|person|people|foreground|object)"
_FACES = r"\bfaces?\b"
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
GENERATIVE_VERBS = _rule(
    "",
    r"\b(?:replac\w*|swap\w*|substitut\w*|insert\w*|generat\w*|outpaint\w*|out-paint\w*|"
    r"inpaint\w*|uncrop\w*|extend\w*|morph\w*|zoom(?:ed|ing)? out|expand\w* (?:the )?"
    r"(?:canvas|frame|scene|borders?|sides?|image|photo|picture))\b",
    unless=r"\b(?:swap|revers)\w* (?:the |all )?colou?rs\b",
)

# The background, the subject and the corners: before the content check, which would refuse
# "background" and "subject".
REGION_RULES = (
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
        adjustments.darken_background,
        also=_BACKGROUND,
    ),
    _rule("blur_background", _BLUR_WORDS, adjustments.blur_background, also=_BACKGROUND),
    # "A portrait photo" is a look (the subject sharp, the background soft, a slight vignette)
    # unless the words say orientation or an aspect ratio: then it is a crop.
    _rule(
        "blur_background",
        r"\bportrait (?:photo\w*|shot|picture|pic|look|style|feel|effect|photography)s?\b|"
        r"\b(?:look|feel)s? like (?:a |an )?(?:professional |studio )?portrait\b",
        adjustments.portrait_look,
        unless=r"\d+ ?(?::|/|x|by) ?\d+|\b(?:orientation|crop\w*|aspect|ratio|vertical|"
        r"upright|tall|format|instagram|stor(?:y|ies))\b",
    ),
    _rule(
        "blur_background",
        r"\bportrait (?:mode|effect|look|blur)\b|\bbokeh\b|\bshallow (?:depth of field|dof|focus)"
        r"|\bdepth of field\b|\bfocus on the (?:main )?(?:subject|person)\b|\b(?:subject|person) "
        r"(?:stand out|pop)\b",
        adjustments.blur_background,
    ),
    # Red eye: its removal only ("give her red eyes" asks for new content).
    _rule(
        "red_eye",
        r"\bred[- ]?eyes?\b",
        also=r"\b(?:remov\w*|fix\w*|reduc\w*|correct\w*|get rid|eliminat\w*|no|without|clean\w*|"
        r"less|repair\w*)\b",
    ),
    # Faces: "blur the faces", "pixelate all faces", "anonymise everyone's face".
    _rule(
        "pixelate_faces",
        r"\b(?:pixel(?:ate\w*|ise\w*|ize\w*|lat\w*)|mosaic\w*|censor\w*|block(?:y|ed|s)?)\b",
        also=_FACES,
    ),
    _rule(
        "blur_faces",
        rf"{_BLUR_WORDS}|\b(?:anonymi[sz]\w*|hid(?:e|ing)|obscur\w*|mask\w*|disguis\w*)\b",
        also=_FACES,
    ),
    _rule(
        "vignette",
        r"\bvignett\w*",
        adjustments.vignette,
        unless=r"\b(?:remov\w*|no|less|reduc\w*)\b",
    ),
    _rule(
        "vignette",
        r"\b(?:dark\w*|burn\w*|shad\w*|black\w*|dim)\b",
        adjustments.vignette,
        also=r"\b(?:corners?|edges?|borders?|periphery)\b",
    ),
)

# Parts of the picture and changes of content: a generative editor's job.
CONTENT = re.compile(
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
GENERATIVE_WORDS = re.compile(
    r"\b(?:add\w*|put|place|insert|include|draw|paint|give|remov\w*|eras\w*|delet\w*|get rid|"
    r"take (?:out|away)|hide|edit out|clone|into|look like|looks like|chang\w*|transform\w*|"
    r"creat\w*|fill)\b"
)

WHOLE_IMAGE_RULES = (
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
        adjustments.posterize,
    ),
    # A colour cast, and automatic white balance: before auto levels ("fix the colours") and
    # temperature ("remove the yellow cast").
    _rule(
        "white_balance",
        r"\b(?:auto(?:matic)?[- ]?)?white[- ]?balanc\w*|\bcolou?r (?:cast|tint)s?\b|\b(?:yellow|"
        r"blue|green|orange|red|magenta|purple|pink|cyan)(?:ish)? (?:cast|tint|tinge)s?\b|"
        r"\bcasts?\b|"
        r"\b(?:fix|correct|balanc|neutrali[sz]|repair|sort out|even out)\w* (?:the |my |all the )?"
        r"colou?rs?\b|\bauto[- ]?colou?rs?\b|\b(?:neutral|natural|true|correct) colou?rs\b|"
        r"\bcolou?rs? (?:look )?(?:natural|neutral|true|right|correct)\b|\bcolou?r[- ]?correct\w*",
        unless=r"\bcast(?:ing)? (?:a |some )?shadows?\b",
        consumes=r"\b(?:fix\w*|correct\w*|remov\w*|repair\w*|improv\w*|auto\w*|neutral\w*)\b",
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
        adjustments.auto_levels_alone,
    ),
    _rule(
        "exposure",
        rf"\b(?:exposure|expos(?:e|ed|ing)|underexpos\w*|overexpos\w*|half a stop)\b|{N} ?(?:stops?"
        rf"|ev|f-?stops?)\b|\bev ?{N}",
        adjustments.exposure,
        consumes=r"\b(?:bright\w*|dark\w*|lighter|dim\w*)\b",  # "one stop brighter"
    ),
    _rule(
        "pixelate",
        r"\b(?:pixel(?:ate\w*|ise\w*|ize\w*|late\w*|lat\w*)|pixel[- ]?art|pixel(?:ated|y)? "
        r"(?:look|style|effect)|\d+-?bit|mosaic|blocky|retro game\w*|censor\w*)\b",
        adjustments.pixelate,
    ),
    _rule(
        "invert",
        r"\b(?:invert\w*|negative|inverse|(?:revers|flip|swap)\w* (?:the |all |all the )?"
        r"colou?rs?)\b",
    ),
    _rule(
        "sepia",
        r"\b(?:sepia\w*|brown(?:ish)?(?:[- ]?ton\w*| tint\w*)?|browner)\b",
        adjustments.sepia,
    ),
    _rule("grayscale", _GREY_WORDS, adjustments.grayscale),
    # Before vintage, which would take "instagram filter" but not "instagram portrait".
    _rule(
        "crop",
        rf"\b(?:crop\w*|trim\w*|square|aspect|ratio|wide-?screen|wide screen|ultra-?wide|"
        rf"cinemascope|anamorphic|letterbox\w*|panoram\w*|instagram|stor(?:y|ies)|reels?|tiktok|"
        rf"portrait|landscape|golden ratio)\b|{N} ?(?::|/|x|by) ?{N}",
        geometry.crop,
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
        adjustments.temperature,
    ),
    _rule("vibrance", r"\bvibran\w*", adjustments.vibrance),
    # "Colour" alone ("change the colours") is not enough: it needs a word saying which way.
    _rule(
        "saturation",
        r"\b(?:saturat\w*|oversaturat\w*|undersaturat\w*|colou?rful\w*|vivid\w*|colou?rs?|"
        r"pastel\w*|muted)\b",
        adjustments.saturation,
        also=r"\b(?:saturat\w*|oversaturat\w*|undersaturat\w*|colou?rful\w*|vivid\w*|pastel\w*|"
        r"mut\w*|boost\w*|enhanc\w*|intensif\w*|increas\w*|rich\w*|deep\w*|pump\w*|punch\w*|amp"
        r"\w*|more|strong\w*|bright\w*|bold\w*|pop\w*|tone down|reduc\w*|lower\w*|soft\w*|dull\w*|"
        r"wash\w*|fad\w*|weak\w*|calm\w*|less|fewer|subdued|pale\w*|improv\w*|rais\w*)\b",
    ),
    _rule(
        "contrast",
        r"\b(?:contrast\w*|punch\w*|flatten\w*|flatter|dramatic|more depth|crush(?:ed)? (?:the )?"
        r"blacks|deeper blacks|pop)\b",
        adjustments.contrast,
    ),
    _rule(
        "brightness",
        r"\b(?:bright\w*|lighten\w*|lighter|lightness|more light|light (?:it )?up|dark\w*|dim|"
        r"dimmer|dimmed|less light|mood(?:y|ier))\b",
        adjustments.brightness,
    ),
    # Before blur and sharpen: "remove the noise", "soften the grain".
    _rule(
        "denoise",
        r"\b(?:de-?nois\w*|nois\w*|grain\w*|speckl\w*|artifacts?|artefacts?)\b",
        adjustments.denoise,
        also=r"\b(?:reduc\w*|remov\w*|less|clean\w*|fix\w*|cut|lower\w*|eliminat\w*|suppress\w*|"
        r"minimi[sz]\w*|rid|too|no|without|kill|smooth\w*|de-?nois\w*|noisy|grainy|clear\w*)\b",
        unless=r"\badd\w*\b",
    ),
    # "Less sharp" is a gentle blur; "it's blurry" is a complaint asking for sharpening.
    _rule(
        "blur",
        r"\b(?:less|reduc\w*|lower\w*|decreas\w*|soften\w*|too) (?:the )?(?:sharp\w*|crisp\w*)\b|"
        r"\bover-?sharpen\w*",
        adjustments.gentle_blur,
    ),
    _rule(
        "sharpen",
        r"\b(?:blurr(?:y|ed)|out[- ]of[- ]focus|fuzzy|unfocused|soft|shaky|motion blur)\b",
        adjustments.sharpen,
        also=r"\b(?:it'?s|is|was|are|looks?|seems?|too|got|came out)\b",
        unless=r"\b(?:make|turn|want|like|should|blur|add)\b",
    ),
    _rule(
        "sharpen",
        r"\b(?:sharp\w*|crisp\w*|clear|clearer|clarity|clear up|unblur\w*|deblur\w*|de-blur\w*|"
        r"in focus|focus\w*|detail\w*|defined|definition|(?:less|reduc\w*|remov\w*|fix\w*|"
        r"get rid of) (?:the )?(?:blur\w*|softness|fuzz\w*))\b",
        adjustments.sharpen,
        unless=r"\bout[- ]of[- ]focus\b",
    ),
    _rule("blur", _BLUR_WORDS, adjustments.blur),
    _rule(
        "resize",
        rf"\b(?:resiz\w*|re-?scal\w*|scal(?:e|ed|ing)|upscal\w*|upsampl\w*|downscal\w*|"
        rf"downsampl\w*|down-?siz\w*|up-?siz\w*|enlarg\w*|shrink\w*|smaller|bigger|larger|double|"
        rf"doubled|twice|triple|tripled|half|halve|halved|quarter|third|thumbnail|width|height|"
        rf"wide|tall|high|1080p|720p|4k|uhd|2k|hd|fhd|size|dimensions?)\b|{N} ?(?:px|pixels?|x\b)"
        rf"|\bx ?\d|{N} ?(?:x|by) ?{N}",
        geometry.resize,
        unless=r"\b(?:quarter|half)[- ]turn\b",  # a rotation
    ),
    # Before rotate: "flip upside down" is a vertical flip, "upside down" alone a half turn.
    _rule(
        "flip",
        r"\b(?:flip\w*|mirror\w*|reflect\w*|revers\w* (?:it )?(?:left-and-right|horizontally|"
        r"vertically))\b",
        geometry.flip,
        consumes=r"\bupside[- ]?down\b",  # a vertical flip, not also a half turn
    ),
    # Before rotate: "fix the tilt" is a straightening, "tilt it 10 degrees" a rotation.
    _rule(
        "straighten",
        r"\b(?:straighten\w*|crooked|tilted|askew|wonky|skew(?:ed)?|de-?skew\w*|slant\w*|un-?tilt"
        r"\w*|horizon)\b|\b(?:fix|correct|remov)\w* (?:the |its |a )?tilt\b|\blevel (?:the |it|"
        r"this|my)|\b(?:make|get) (?:it|the photo|the image|the picture) (?:level|straight)\b",
        unless=r"\d+ ?(?:\u00b0|deg)",
        consumes=r"\b(?:fix\w*|correct\w*|remov\w*|level\w*|straight\w*|photo|image|picture|"
        r"rotat\w*|turn\w*|so|is)\b",
    ),
    _rule(
        "rotate",
        r"\b(?:rotat\w*|spin\w*|tilt\w*|upside[- ]?down|turn\w*)\b|\b(?:quarter|half)[- ]turn",
        geometry.rotate,
        consumes=r"\b(?:straighten\w*|level\w*)\b",  # "rotate 3 degrees to straighten it"
    ),
)
