"""The sky: found where it is, edited there only, and refused on photos without one.

Three real photos with a sky: scikit-image's rocket (a deep blue dusk sky, towers across it) and
camera (a grey sky in a black-and-white photo), and scikit-learn's china (a pale hazy sky over a
pagoda, trees and a lake; in photos/, CC BY 2.0, see photos/README.md). On each, boxes surely on
the sky and surely off it were picked by eye; the mask must be near 1 in the first and near 0 in
the second, and an edit of the sky must change the first and leave the second as it was. Photos
without a sky (a studio portrait with a grey backdrop, a cup, a cat, a flower, coins, a page,
a clock, galaxies, cells, textures) must be refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from skimage.color import rgb2lab

from mizual.localedit.sky import sky
from mizual.providers.editing.base import EditingError, EditRequest
from mizual.providers.editing.local import LocalEditingProvider
from tests.localedit.test_seeing_eval import (
    CHANGES,
    Box,
    changed_only_in,
    edited,
    inner,
    luminance,
    png,
)
from tests.localedit.test_seeing_eval import pixels as photo

# (surely sky, surely not sky), x, y, width, height in the photo's pixels.
SKY_BOXES: dict[str, tuple[list[Box], list[Box]]] = {
    "rocket": (
        [(120, 10, 40, 200), (210, 20, 80, 140), (480, 20, 60, 150), (340, 200, 80, 60)],
        [(280, 395, 80, 32), (0, 410, 200, 17)],  # the launch pad, the ground with its lights
    ),
    "camera": (
        [(300, 0, 200, 60), (0, 0, 120, 40), (440, 60, 60, 20)],
        [(300, 350, 200, 150), (40, 280, 80, 100), (200, 140, 40, 50)],  # grass, coat, face
    ),
    "china": (
        [(0, 0, 180, 60), (480, 0, 160, 60), (330, 20, 100, 40)],
        [(0, 360, 120, 60), (580, 250, 60, 150), (260, 290, 60, 40)],  # trees, trees, pagoda
    ),
}
SKYLESS = (
    "astronaut",
    "coffee",
    "chelsea",
    "flower",
    "coins",
    "page",
    "clock",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "horse",
    "grass",
    "brick",
)


def blueness(array: np.ndarray) -> float:
    """Lab's b* (blue is negative) of the mean, so that a bluer sky scores lower."""
    return float(-rgb2lab(np.clip(array, 0, 255).astype(np.uint8))[..., 2].mean())


def lab_chroma(array: np.ndarray) -> float:
    lab = rgb2lab(np.clip(array, 0, 255).astype(np.uint8))
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


SKY_CHANGES = {
    **CHANGES,
    "bluer": lambda b, a: blueness(a) > blueness(b) + 3,
    # Darker, and its colour as deep or deeper (not clipped to white, not greyed).
    "dramatic": lambda b, a: (
        luminance(a).mean() < luminance(b).mean() * 0.9 and lab_chroma(a) >= lab_chroma(b) - 0.5
    ),
}


@dataclass(frozen=True)
class SkyCase:
    prompt: str
    photo: str
    change: str  # a key of SKY_CHANGES


SKY_CASES = [
    SkyCase("make the sky bluer", "china", "bluer"),
    SkyCase("make the sky bluer", "camera", "bluer"),  # a grey photo gains a blue sky
    SkyCase("make the sky more blue", "rocket", "bluer"),
    SkyCase("darken the sky", "china", "darker"),
    SkyCase("darken the sky", "camera", "darker"),
    SkyCase("make the sky more dramatic", "china", "dramatic"),
    SkyCase("make the sky more dramatic", "camera", "dramatic"),
    SkyCase("brighten the sky", "rocket", "brighter"),
    SkyCase("make the sky warmer", "china", "warmer"),
    SkyCase("make the sky black and white", "rocket", "grey"),
    SkyCase("add contrast to the sky", "camera", "more contrast"),
    SkyCase("make the sky dramatic", "rocket", "dramatic"),
    SkyCase("make the skies in this photo darker", "camera", "darker"),
    SkyCase("darken the sky and clouds", "china", "darker"),
    SkyCase("blur the sky", "rocket", "blurred"),
]


@pytest.fixture(scope="module")
def editor() -> LocalEditingProvider:
    return LocalEditingProvider()


def test_the_sky_is_found_where_it_was_labelled_and_nowhere_else() -> None:
    for name, (on_sky, off_sky) in SKY_BOXES.items():
        found = sky(photo(name))
        assert found is not None, name
        for box in on_sky:
            assert found.mask[inner(box)].mean() > 0.95, f"{name}: the sky at {box}"
        for box in off_sky:
            assert found.mask[inner(box)].max() < 0.05, f"{name}: not the sky at {box}"


@pytest.mark.parametrize("name", SKYLESS)
def test_no_sky_is_found_in_photos_without_one(name: str) -> None:
    assert sky(photo(name)) is None


@pytest.mark.parametrize("case", SKY_CASES, ids=[f"{c.prompt} ({c.photo})" for c in SKY_CASES])
def test_a_step_on_the_sky_changes_the_sky_only(
    editor: LocalEditingProvider, case: SkyCase
) -> None:
    before, after, plan = edited(editor, case.photo, case.prompt)
    on_sky, off_sky = SKY_BOXES[case.photo]
    changed_only_in(
        before, after, changed_boxes=on_sky, kept_boxes=off_sky, changed=SKY_CHANGES[case.change]
    )
    assert plan
    assert all(step["region"] == "sky" for step in plan)
    found = str(plan[0]["found"])
    assert found.startswith("the sky found (")
    assert found.endswith("% of the photo)")


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "flower", "page", "clock"])
@pytest.mark.parametrize("prompt", ["make the sky bluer", "make the sky more dramatic"])
def test_a_sky_edit_of_a_photo_without_sky_is_refused_by_name(
    editor: LocalEditingProvider, name: str, prompt: str
) -> None:
    with pytest.raises(EditingError) as refused:
        editor.edit(EditRequest(image=png(name), prompt=prompt, enhanced_prompt=None))
    assert refused.value.user_message == "No sky was found in this photo, so nothing was changed."
    assert refused.value.error_class == "refused"
    assert refused.value.retryable is False


def test_the_sky_is_found_the_same_at_twelve_megapixels() -> None:
    """The mask is made on a small copy: a large photo gets the same sky, enlarged."""
    small = photo("china")
    large = cv2.resize(small, (4240, 2829), interpolation=cv2.INTER_CUBIC)
    found_small, found_large = sky(small), sky(large)
    assert found_small is not None
    assert found_large is not None
    assert abs(found_small.share - found_large.share) < 0.02
    shrunk = cv2.resize(found_large.mask, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - found_small.mask).mean() < 0.03


def test_the_sky_is_edited_up_to_what_stands_in_front_of_it(editor: LocalEditingProvider) -> None:
    """The sky 1-12 px above the cameraman's hair is darkened like the rest of the sky: no pale
    halo left where the sky meets his head (the pixels along an edge are not smooth, and were
    once left out of the mask)."""
    outcome = editor.edit(
        EditRequest(image=png("camera"), prompt="make the sky more dramatic", enhanced_prompt=None)
    )
    before = luminance(photo("camera").astype(np.float64))
    after = luminance(np.repeat(np.asarray(outcome.image.numpy(), np.float64)[..., :1], 3, axis=2))
    above_the_hair = (slice(56, 67), slice(195, 225))  # the hair starts at y = 68 there
    open_sky = (slice(0, 60), slice(300, 500))
    darkening_at_the_edge = after[above_the_hair].mean() / before[above_the_hair].mean()
    darkening_in_the_open = after[open_sky].mean() / before[open_sky].mean()
    assert darkening_at_the_edge < 0.92
    assert abs(darkening_at_the_edge - darkening_in_the_open) < 0.06
