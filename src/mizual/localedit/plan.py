"""An edit plan: the ordered operations a prompt was read as, and the catalogue of operations
the offline editor can perform, with each parameter's type and range.

The catalogue is the contract between the readers of a prompt (the rule parser, or an LLM asked
for structured output) and the operations: `validate_step` turns what a reader produced into a
`Step` or says exactly what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class InvalidPlan(Exception):
    """A step names an unknown operation or a parameter outside its range."""


@dataclass(frozen=True)
class Param:
    kind: str  # "float", "int" or "choice"
    default: float | int | str | None = None  # None: the parameter is required
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # may be absent (None) with no default
    meaning: str = ""


@dataclass(frozen=True)
class Operation:
    summary: str
    params: dict[str, Param] = field(default_factory=dict)
    # Needs a subject mask (whole-image work on a downscaled copy) rather than a pure pipeline.
    subject_aware: bool = False


def _amount(minimum: float, maximum: float, default: float, meaning: str) -> Param:
    return Param("float", default, minimum, maximum, meaning=meaning)


CATALOGUE: dict[str, Operation] = {
    "brightness": Operation(
        "lighter or darker",
        {"amount": _amount(-0.95, 3.0, 0.25, "relative change: 0.25 is 25% brighter, -0.3 darker")},
    ),
    "contrast": Operation(
        "more or less contrast around mid-grey",
        {"amount": _amount(-0.9, 3.0, 0.3, "relative change: 0.3 is 30% more, -0.3 less")},
    ),
    "saturation": Operation(
        "more or less colour, evenly",
        {"amount": _amount(-1.0, 3.0, 0.3, "relative change: 0.3 is 30% more, -1 no colour")},
    ),
    "vibrance": Operation(
        "more colour where there is little, sparing skin and already vivid colours",
        {"amount": _amount(-1.0, 2.0, 0.4, "strength: 0.4 moderate, negative mutes")},
    ),
    "grayscale": Operation("black and white"),
    "sepia": Operation(
        "brown-toned old photograph",
        {"amount": _amount(0.0, 1.0, 1.0, "1 is full sepia, 0.5 half way")},
    ),
    "vintage": Operation("faded, warm, sepia-tinged look with a soft vignette"),
    "temperature": Operation(
        "warm or cool white balance",
        {"amount": _amount(-1.0, 1.0, 0.3, "positive warmer (more orange), negative cooler")},
    ),
    "exposure": Operation(
        "exposure in photographic stops",
        {"stops": _amount(-3.0, 3.0, 0.5, "+1 doubles the light, -1 halves it")},
    ),
    "auto_levels": Operation("stretch the tones so the darkest is black and the lightest white"),
    "sharpen": Operation(
        "crisper detail",
        {"amount": _amount(0.1, 5.0, 1.0, "strength: 0.5 gentle, 1 normal, 2 strong")},
    ),
    "blur": Operation(
        "soften the whole image",
        {"sigma": _amount(0.3, 100.0, 4.0, "Gaussian radius in pixels")},
    ),
    "denoise": Operation(
        "smooth away grain and noise, keeping edges",
        {"strength": _amount(0.1, 3.0, 1.0, "0.5 gentle, 1 normal, 2 strong")},
    ),
    "vignette": Operation(
        "darken the corners",
        {"amount": _amount(0.05, 1.0, 0.4, "how dark the corners get: 1 black")},
    ),
    "invert": Operation("photographic negative"),
    "posterize": Operation(
        "few flat tones per channel",
        {"levels": Param("int", 4, 2, 64, meaning="tones per channel")},
    ),
    "pixelate": Operation(
        "large square pixels",
        {
            "block": Param(
                "int",
                None,
                2,
                512,
                optional=True,
                meaning="block size in pixels; absent: about 1/64 of the longer side",
            )
        },
    ),
    "rotate": Operation(
        "rotate clockwise; 90/180/270 are lossless, other angles leave transparent corners",
        {"degrees": Param("float", None, -360.0, 360.0, meaning="clockwise degrees")},
    ),
    "flip": Operation(
        "mirror",
        {"direction": Param("choice", "horizontal", choices=("horizontal", "vertical"))},
    ),
    "crop": Operation(
        "centre crop to an aspect ratio (1:1 for square)",
        {
            "ratio_width": Param("int", None, 1, 100, meaning="e.g. 16 of 16:9"),
            "ratio_height": Param("int", None, 1, 100, meaning="e.g. 9 of 16:9"),
        },
    ),
    "resize": Operation(
        "scale by a factor, or to a width and/or height in pixels (aspect kept if one is given)",
        {
            "scale": Param("float", None, 0.01, 4.0, optional=True, meaning="factor"),
            "width": Param("int", None, 1, 16384, optional=True, meaning="pixels"),
            "height": Param("int", None, 1, 16384, optional=True, meaning="pixels"),
        },
    ),
    "blur_background": Operation(
        "blur everything but the subject",
        {"sigma": _amount(1.0, 100.0, 8.0, "Gaussian radius in pixels at full size")},
        subject_aware=True,
    ),
    "darken_background": Operation(
        "darken everything but the subject",
        {"amount": _amount(0.05, 1.0, 0.5, "0.5 half as bright, 1 black")},
        subject_aware=True,
    ),
    "desaturate_background": Operation(
        "black and white background, subject in colour", subject_aware=True
    ),
    "remove_background": Operation(
        "transparent background (PNG), subject kept", subject_aware=True
    ),
    "sketch": Operation("pencil sketch"),
    "cartoon": Operation("cartoon: flat colours and bold outlines"),
    "painting": Operation("painted look: smooth brush-like regions"),
}


@dataclass(frozen=True)
class Step:
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the words of the prompt this step was read from

    def describe(self) -> dict[str, Any]:
        return {"operation": self.operation, "params": self.params, "from": self.source}


@dataclass(frozen=True)
class EditPlan:
    steps: tuple[Step, ...]
    read_by: str = "rules"  # the rule parser, or the LLM that read the prompt

    def describe(self) -> list[dict[str, Any]]:
        return [step.describe() | {"read_by": self.read_by} for step in self.steps]

    @property
    def subject_aware(self) -> bool:
        return any(CATALOGUE[step.operation].subject_aware for step in self.steps)


def validate_step(operation: str, params: dict[str, Any], source: str = "") -> Step:
    """A step with every parameter present, typed and in range, or InvalidPlan saying why."""
    spec = CATALOGUE.get(operation)
    if spec is None:
        raise InvalidPlan(f"unknown operation {operation!r}")
    unknown = set(params) - set(spec.params)
    if unknown:
        raise InvalidPlan(f"{operation} takes no {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    for name, param in spec.params.items():
        value = params.get(name, param.default)
        if value is None:
            if param.optional:
                continue
            raise InvalidPlan(f"{operation} needs {name}")
        checked[name] = _check(operation, name, param, value)
    if operation == "resize" and not checked:
        raise InvalidPlan("resize needs a scale, a width or a height")
    if operation == "resize" and "scale" in checked and len(checked) > 1:
        raise InvalidPlan("resize takes a scale or a size, not both")
    return Step(operation, checked, source)


def _check(operation: str, name: str, param: Param, value: Any) -> float | int | str:
    if param.kind == "choice":
        if value not in param.choices:
            raise InvalidPlan(f"{operation} {name} must be one of {', '.join(param.choices)}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPlan(f"{operation} {name} must be a number")
    number: float | int = round(value) if param.kind == "int" else float(value)
    low, high = param.minimum, param.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidPlan(f"{operation} {name} must be between {low:g} and {high:g}")
    return number
