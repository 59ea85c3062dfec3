"""Red-eye removal, judged on real faces with flash-red pupils painted in.

The astronaut's pupils were located by hand (the centre of each iris, in the photo's pixels);
the two-face photo is the one of tests/localedit/test_seeing_eval.py. A red pupil is painted
over each as a flash would light it: a soft disc of (210, 40, 35), 3.5 px in radius, a little
smaller than the iris.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import pyvips

from mizual.providers.editing.base import EditingError, EditRequest
from mizual.providers.editing.local import LocalEditingProvider
from tests.localedit.test_seeing_eval import PAIR_PLACES, PAIR_SCALE, pixels

ASTRONAUT_PUPILS = ((203.0, 102.0), (246.0, 103.0))
PUPIL_RADIUS = 3.5
FLASH_RED = (210, 40, 35)


def pupils_of(name: str) -> list[tuple[float, float]]:
    if name == "astronaut":
        return list(ASTRONAUT_PUPILS)
    return [
        (left + x * PAIR_SCALE, top + y * PAIR_SCALE)
        for left, top in PAIR_PLACES
        for x, y in ASTRONAUT_PUPILS
    ]


def with_red_eyes(name: str) -> np.ndarray:
    photo = pixels(name).astype(np.float32)
    rows, columns = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    radius = PUPIL_RADIUS * (PAIR_SCALE if name == "pair" else 1)
    for x, y in pupils_of(name):
        disc = ((columns - x) ** 2 + (rows - y) ** 2 <= radius**2).astype(np.float32)
        weight = cv2.GaussianBlur(disc, (0, 0), 0.7)[..., None]
        photo = photo * (1 - weight) + np.array(FLASH_RED, np.float32) * weight
    return np.rint(photo).astype(np.uint8)


def png(array: np.ndarray) -> bytes:
    data: bytes = pyvips.Image.new_from_array(array).copy(interpretation="srgb").pngsave_buffer()
    return data


def redness(array: np.ndarray) -> np.ndarray:
    values = array.astype(np.float64)
    return np.asarray(values[..., 0] - np.maximum(values[..., 1], values[..., 2]))


def near(shape: tuple[int, ...], points: list[tuple[float, float]], radius: float) -> np.ndarray:
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]]
    found = np.zeros(shape[:2], bool)
    for x, y in points:
        found |= (columns - x) ** 2 + (rows - y) ** 2 <= radius**2
    return found


@pytest.fixture(scope="module")
def editor() -> LocalEditingProvider:
    return LocalEditingProvider()


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("remove the red eyes", "astronaut"),
        ("fix red eye", "astronaut"),
        ("red eye reduction please", "pair"),
    ],
)
def test_red_pupils_are_made_dark_and_nothing_else_changes(
    editor: LocalEditingProvider, prompt: str, name: str
) -> None:
    before = with_red_eyes(name)
    outcome = editor.edit(EditRequest(image=png(before), prompt=prompt, enhanced_prompt=None))
    after = np.asarray(outcome.image.numpy())[..., :3]
    pupils = pupils_of(name)
    scale = PAIR_SCALE if name == "pair" else 1
    centres = near(before.shape, pupils, 2.0 * scale)
    assert redness(before)[centres].mean() > 120
    assert redness(after)[centres].mean() < 25  # as red as a dark pupil or the iris around it
    assert (after[centres].mean(axis=1) < before[centres].mean(axis=1)).all()  # darker
    untouched = ~near(before.shape, pupils, 12 * scale)
    assert np.array_equal(after[untouched], before[untouched])
    (step,) = outcome.plan
    faces = "2 faces" if name == "pair" else "1 face"
    assert step["found"] == f"{faces} found; {len(pupils)} red eyes found"


def test_a_face_without_red_eyes_is_refused(editor: LocalEditingProvider) -> None:
    with pytest.raises(EditingError) as refused:
        editor.edit(
            EditRequest(
                image=png(pixels("astronaut")), prompt="remove red eye", enhanced_prompt=None
            )
        )
    assert (
        refused.value.user_message
        == "No red eyes were found in this photo, so nothing was changed."
    )


def test_red_eye_on_a_photo_without_faces_is_refused(editor: LocalEditingProvider) -> None:
    with pytest.raises(EditingError) as refused:
        editor.edit(
            EditRequest(image=png(pixels("rocket")), prompt="remove red eye", enhanced_prompt=None)
        )
    assert (
        refused.value.user_message == "No faces were found in this photo, so nothing was changed."
    )
