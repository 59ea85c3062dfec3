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
# Operations that can apply to a part of the photo (`parts.py`): those that keep its size and
# change each pixel where it is. Turns, crops, the background and the face edits cannot.
REGIONAL = frozenset(
    name
    for name, declared in CATALOGUE.items()
    if declared.run.__module__
    in {group.__name__ for group in (tone, colour, exposure, detail, effects, styles)}
)
# Operations that read the photo twice (a measurement, then the edit), out of order (turns,
# flips) or whole (to find the subject): a plan with one of them needs the photo decoded whole.
RANDOM_ACCESS = frozenset(name for name, declared in CATALOGUE.items() if not declared.streams)


def streams(plan: EditPlan) -> bool:
    """Whether the plan reads the photo once, top to bottom, so it can be decoded in strips. A
    step on a part reads it twice (the step, and the photo it is blended with)."""
    return not any(step.operation in RANDOM_ACCESS or step.region for step in plan.steps)


def apply_plan(image: pyvips.Image, plan: EditPlan) -> pyvips.Image:
    return run_plan(image, plan)[0]


def run_plan(image: pyvips.Image, plan: EditPlan) -> tuple[pyvips.Image, list[dict[str, Any]]]:
    """The edited photo, and the plan as shown to people: each step with what it found in the
    photo ("found": "2 faces found") where it looked. RegionNotFound if a step's part of the
    photo is not in it."""
    # Imported here: the catalogue above is read where no photo is edited, without pyvips.
    from mizual.kit.imaging import to_display_space

    described = plan.describe()
    # A part is found once, on the photo as the first step on it sees it: "make the sky more
    # dramatic" darkens it first, and the darker sky must still be the sky for the next step.
    masks: dict[tuple[str, int, int], pyvips.Image] = {}
    for step, shown in zip(plan.steps, described, strict=True):
        params: dict[str, Any] = step.params
        with noting() as notes:
            # 16-bit, CMYK or Lab in, or a step that left floats: 8-bit sRGB or grey for the next.
            before = to_display_space(image)
            image = OPERATIONS[step.operation](before, **params)
            if step.region:
                image = _on_part(before, to_display_space(image), step.region, masks=masks)
        if notes:
            shown["found"] = "; ".join(notes)
    return to_display_space(image), described


def _on_part(
    before: pyvips.Image,
    after: pyvips.Image,
    part: str,
    *,
    masks: dict[tuple[str, int, int], pyvips.Image],
) -> pyvips.Image:
    """`after` where `part` of the photo is, `before` elsewhere, blended along the part's soft
    edge; the part's mask is taken from `masks` if found there at this size before."""
    from mizual.localedit.operations.pixels import rgb, split_alpha
    from mizual.localedit.parts import part_mask

    colour, _ = split_alpha(before)
    key = (part, colour.width, colour.height)
    if key not in masks:
        masks[key] = part_mask(colour, part)
    mask = masks[key]
    if after.bands < before.bands:  # "make the top half black and white" of a colour photo
        changed, alpha = split_alpha(after)
        after = rgb(changed) if alpha is None else rgb(changed).bandjoin(alpha)
    if after.bands > before.bands:
        before = rgb(before)
    blended = mask.ifthenelse(after, before, blend=True)
    return blended.cast("uchar").copy(interpretation=after.interpretation)
