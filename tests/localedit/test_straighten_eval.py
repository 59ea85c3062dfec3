"""Straightening, judged on real photographs turned by a known angle.

scikit-image's cameraman (a horizon and a building) and rocket (a launch tower) are level as
taken; its scanned page is skewed by 0.4° as taken (the editor measures it so, and straightens
that too). Each is turned by the test with libvips, its corners cropped as the editor crops
them, then straightened: the angle found must be the one applied, and the result must look like
the photo as taken, not like the turned one. Photos without straight lines are refused.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import pyvips
from skimage import data as samples

from mizual.localedit.lines import tilt
from mizual.providers.editing.base import EditingError, EditRequest
from mizual.providers.editing.local import LocalEditingProvider

TILTS = (4.0, -3.0, 7.0, -6.0, 2.0)
LEVEL_AS_TAKEN = ("camera", "rocket")
SKEWED_AS_TAKEN = {"page": 0.4}  # degrees clockwise
NO_STRAIGHT_LINES = ("astronaut", "coffee", "chelsea", "coins", "hubble_deep_field", "gravel")


def photo(name: str) -> np.ndarray:
    pixels = getattr(samples, name)()
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3].astype(np.uint8))


def turned(pixels: np.ndarray, degrees: float) -> np.ndarray:
    """Turned clockwise, cut to the largest centred rectangle of its shape with no corners."""
    image = pyvips.Image.new_from_array(pixels).copy(interpretation="srgb")
    width, height = image.width, image.height
    whole = image.rotate(degrees, interpolate=pyvips.Interpolate.new("bicubic"))
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    fit = min(width / (width * cos + height * sin), height / (width * sin + height * cos))
    kept_width, kept_height = math.floor(width * fit), math.floor(height * fit)
    kept = whole.crop(
        (whole.width - kept_width) // 2, (whole.height - kept_height) // 2, kept_width, kept_height
    )
    return np.ascontiguousarray(np.asarray(kept.numpy()))


def centre(pixels: np.ndarray, *, width: int, height: int) -> np.ndarray:
    top, left = (pixels.shape[0] - height) // 2, (pixels.shape[1] - width) // 2
    return pixels[top : top + height, left : left + width].astype(np.float32)


def softened(pixels: np.ndarray) -> np.ndarray:
    """Blurred a little, so that two resamplings of the same scene compare alike."""
    return cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), 2.0)


def png(pixels: np.ndarray) -> bytes:
    data: bytes = pyvips.Image.new_from_array(pixels).copy(interpretation="srgb").pngsave_buffer()
    return data


@pytest.fixture(scope="module")
def editor() -> LocalEditingProvider:
    return LocalEditingProvider()


def straightened(editor: LocalEditingProvider, pixels: np.ndarray) -> tuple[np.ndarray, str]:
    outcome = editor.edit(
        EditRequest(image=png(pixels), prompt="straighten the horizon", enhanced_prompt=None)
    )
    (step,) = outcome.plan
    assert step["operation"] == "straighten"
    return np.asarray(outcome.image.numpy(), dtype=np.float32)[..., :3], step["found"]


def found_degrees(found: str) -> float:
    """The signed angle of "a tilt of 3.9° clockwise found; …"."""
    amount = float(found.split("a tilt of ")[1].split("°")[0])
    return amount if " clockwise" in found else -amount


@pytest.mark.parametrize("name", LEVEL_AS_TAKEN)
@pytest.mark.parametrize("degrees", TILTS)
def test_a_turned_photo_is_turned_back_to_the_photo_as_taken(
    editor: LocalEditingProvider, name: str, degrees: float
) -> None:
    taken = photo(name)
    tilted = turned(taken, degrees)
    result, found = straightened(editor, tilted)
    assert found_degrees(found) == pytest.approx(degrees, abs=0.5)
    height, width = result.shape[:2]
    assert width < tilted.shape[1]  # the corners are cropped
    assert height < tilted.shape[0]
    as_taken = softened(centre(taken, width=width, height=height))
    left_tilted = softened(centre(tilted, width=width, height=height))
    difference = np.abs(softened(result) - as_taken).mean()
    assert difference < 0.45 * np.abs(left_tilted - as_taken).mean()


@pytest.mark.parametrize("degrees", [4.0, -3.0, 7.0, -6.0])
def test_a_skewed_scanned_page_is_deskewed_by_its_lines_of_text(
    editor: LocalEditingProvider, degrees: float
) -> None:
    skew = SKEWED_AS_TAKEN["page"]
    _, found = straightened(editor, turned(photo("page"), degrees))
    assert found_degrees(found) == pytest.approx(degrees + skew, abs=0.5)


def test_the_lines_say_the_level_photos_are_level_and_the_page_skewed() -> None:
    for name in LEVEL_AS_TAKEN:
        measured = tilt(photo(name))
        assert measured is not None, name
        assert abs(measured.degrees) < 0.3, name
    page = tilt(photo("page"))
    assert page is not None
    assert page.degrees == pytest.approx(SKEWED_AS_TAKEN["page"], abs=0.2)


def test_a_level_photo_is_refused_as_already_level(editor: LocalEditingProvider) -> None:
    with pytest.raises(EditingError) as refused:
        straightened(editor, photo("camera"))
    assert refused.value.user_message == (
        "This photo is already level (its lines are within 0.3° of straight), so it was not turned."
    )
    assert refused.value.error_class == "refused"


@pytest.mark.parametrize("name", NO_STRAIGHT_LINES)
def test_a_photo_without_straight_lines_is_refused_saying_so(
    editor: LocalEditingProvider, name: str
) -> None:
    with pytest.raises(EditingError) as refused:
        straightened(editor, turned(photo(name), 4.0))
    assert refused.value.user_message.startswith(
        "No horizon or straight lines were found in this photo, so it was not straightened"
    )
    assert "rotate 15 degrees clockwise" in refused.value.user_message
