"""The image operations an edit plan names, and the catalogue derived from their declarations.

Each module here declares its operations with `registry.operation` beside their implementations:
tone, colour, exposure (and levels), detail, effects, geometry, regions (the subject and the
background), faces (found by `seeing.py`) and styles. `pixels.py` holds what they share,
`drawing.py` how the styles are drawn.
Those modules import NumPy, pyvips and OpenCV inside the implementations, so that importing them
to read the catalogue loads none of the three.

Colour, light, detail and geometry are lazy pyvips pipelines: nothing is computed until the
result is encoded, and the photo streams through in strips, never whole in memory. Per-channel
tone changes are 256-entry lookup tables (exact, rounded once, and the cheapest libvips
operation). Denoising (OpenCV's bilateral filter), the subject mask (`subject.py`) and the
artistic styles (`drawing.py`) are the exceptions that work on arrays.

Every operation takes and returns 8-bit sRGB or grey, with any alpha band kept as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mizual.localedit.findings import noting
from mizual.localedit.operations import (
    colour,
    detail,
    effects,
    exposure,
    faces,
    geometry,
    regions,
    styles,
    tone,
)
from mizual.localedit.registry import Operation, catalogue

if TYPE_CHECKING:
    import pyvips

    from mizual.localedit.plan import EditPlan

# In the order people and the LLM are shown them.
CATALOGUE: dict[str, Operation] = catalogue(
    tone, colour, exposure, detail, effects, geometry, regions, faces, styles
)
OPERATIONS: dict[str, Callable[..., pyvips.Image]] = {
    name: declared.run for name, declared in CATALOGUE.items()
}
# Operations that read the photo twice (a measurement, then the edit), out of order (turns,
# flips) or whole (to find the subject): a plan with one of them needs the photo decoded whole.
RANDOM_ACCESS = frozenset(name for name, declared in CATALOGUE.items() if not declared.streams)


def streams(plan: EditPlan) -> bool:
    """Whether the plan reads the photo once, top to bottom, so it can be decoded in strips."""
    return not any(step.operation in RANDOM_ACCESS for step in plan.steps)


def apply_plan(image: pyvips.Image, plan: EditPlan) -> pyvips.Image:
    return run_plan(image, plan)[0]


def run_plan(image: pyvips.Image, plan: EditPlan) -> tuple[pyvips.Image, list[dict[str, Any]]]:
    """The edited photo, and the plan as shown to people: each step with what it found in the
    photo ("found": "2 faces found") where it looked. RegionNotFound if a step's part of the
    photo is not in it."""
    # Imported here: the catalogue above is read where no photo is edited, without pyvips.
    from mizual.kit.imaging import to_display_space

    described = plan.describe()
    for step, shown in zip(plan.steps, described, strict=True):
        params: dict[str, Any] = step.params
        with noting() as notes:
            # 16-bit, CMYK or Lab in, or a step that left floats: 8-bit sRGB or grey for the next.
            image = OPERATIONS[step.operation](to_display_space(image), **params)
        if notes:
            shown["found"] = "; ".join(notes)
    return to_display_space(image), described
