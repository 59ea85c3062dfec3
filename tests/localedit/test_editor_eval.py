"""The offline editor's evaluation table: prompts in many phrasings over real photographs
(scikit-image's sample photos), each judged by a pixel measurement that a wrong edit fails.

The provider is called as the pipeline calls it (image bytes and a prompt in, a pyvips image
out); the measurement reads the edited pixels before encoding, so JPEG noise cannot hide or fake
an effect. A few of the same edits run through the HTTP API in tests/test_pipeline.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import pytest
import pyvips
from skimage import data as samples

from mizual.providers.editing.base import EditingError, EditRequest
from mizual.providers.editing.local import LocalEditingProvider

Array = np.ndarray

# The astronaut's face, as a face detector finds it, and two corners of pure background.
FACE = (slice(80, 150), slice(190, 260))
CORNERS = ((slice(0, 60), slice(0, 60)), (slice(0, 60), slice(452, 512)))


@cache
def photo(name: str) -> bytes:
    pixels = getattr(samples, name)()
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    image = image.copy(interpretation="b-w" if pixels.ndim == 2 else "srgb")
    data: bytes = image.write_to_buffer(".png")
    return data


@cache
def pixels_of(name: str) -> Array:
    return as_array(pyvips.Image.new_from_buffer(photo(name), ""))


def as_array(image: pyvips.Image) -> Array:
    array = np.asarray(image.numpy(), dtype=np.float64)
    return array[..., None] if array.ndim == 2 else array


def colour(array: Array) -> Array:
    """The colour bands as RGB (a grey image repeated), alpha dropped."""
    bands = array.shape[2]
    if bands in (1, 2):
        return np.repeat(array[..., :1], 3, axis=2)
    return array[..., :3]


def luminance(array: Array) -> Array:
    rgb = colour(array)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def chroma(array: Array) -> float:
    rgb = colour(array)
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())


def sharpness(array: Array) -> float:
    """Variance of the Laplacian of the luminance: falls with blur, rises with sharpening."""
    return float(cv2.Laplacian(luminance(array).astype(np.float32), cv2.CV_32F).var())


def correlation(a: Array, b: Array) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# Checks: each receives the photo before and after, and fails on a wrong edit. -----------------


def grey(before: Array, after: Array) -> None:
    assert chroma(after) < 1.5 < chroma(before)
    assert correlation(luminance(before), luminance(after)) > 0.97


def brighter(by: float) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        assert luminance(after).mean() > luminance(before).mean() * (1 + by)

    return check


def darker(by: float) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        assert luminance(after).mean() < luminance(before).mean() * (1 - by)

    return check


def more_contrast(before: Array, after: Array) -> None:
    assert luminance(after).std() > luminance(before).std() * 1.15


def less_contrast(before: Array, after: Array) -> None:
    assert luminance(after).std() < luminance(before).std() * 0.85


def more_colour(before: Array, after: Array) -> None:
    assert chroma(after) > chroma(before) * 1.15


def less_colour(before: Array, after: Array) -> None:
    assert 1.5 < chroma(after) < chroma(before) * 0.85


def vibrant(before: Array, after: Array) -> None:
    """Dull pixels gain more colour than vivid ones."""
    rgb_before, rgb_after = colour(before), colour(after)
    spread_before = rgb_before.max(axis=2) - rgb_before.min(axis=2)
    spread_after = rgb_after.max(axis=2) - rgb_after.min(axis=2)
    dull = spread_before < np.percentile(spread_before, 30)
    vivid = spread_before > np.percentile(spread_before, 90)
    gain_dull = spread_after[dull].mean() / max(spread_before[dull].mean(), 1)
    gain_vivid = spread_after[vivid].mean() / max(spread_before[vivid].mean(), 1)
    assert gain_dull > 1.05
    assert gain_dull > gain_vivid


def sepia_toned(before: Array, after: Array) -> None:
    rgb = colour(after)
    red, green, blue = (rgb[..., band].mean() for band in range(3))
    assert red > green > blue
    assert red - blue > 15
    assert correlation(luminance(before), luminance(after)) > 0.9


def faded_and_warm(before: Array, after: Array) -> None:
    rgb_before, rgb_after = colour(before), colour(after)
    warmth_before = (rgb_before[..., 0] - rgb_before[..., 2]).mean()
    assert (rgb_after[..., 0] - rgb_after[..., 2]).mean() > warmth_before + 5
    assert np.percentile(luminance(after), 1) > np.percentile(luminance(before), 1) + 5


def warmer(before: Array, after: Array) -> None:
    rgb_before, rgb_after = colour(before), colour(after)
    assert (rgb_after[..., 0] - rgb_after[..., 2]).mean() > (
        rgb_before[..., 0] - rgb_before[..., 2]
    ).mean() + 8


def cooler(before: Array, after: Array) -> None:
    rgb_before, rgb_after = colour(before), colour(after)
    assert (rgb_after[..., 2] - rgb_after[..., 0]).mean() > (
        rgb_before[..., 2] - rgb_before[..., 0]
    ).mean() + 8


def stretched(before: Array, after: Array) -> None:
    """On a dull copy (tones 70..170), the tones are spread out again."""
    low, high = np.percentile(luminance(after), [1, 99])
    assert high - low > 1.4 * (
        np.percentile(luminance(before), 99) - np.percentile(luminance(before), 1)
    )


def sharper(before: Array, after: Array) -> None:
    assert sharpness(after) > sharpness(before) * 1.3
    assert correlation(luminance(before), luminance(after)) > 0.9


def blurred(factor: float) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        assert sharpness(after) < sharpness(before) * factor
        assert after.shape == before.shape

    return check


def denoised(before: Array, after: Array) -> None:
    assert sharpness(after) < sharpness(before) * 0.6  # the grain is what the Laplacian saw
    assert abs(luminance(after).mean() - luminance(before).mean()) < 6


def vignetted(before: Array, after: Array) -> None:
    def corner_to_centre(array: Array) -> float:
        lum = luminance(array)
        h, w = lum.shape
        corners = np.concatenate(
            [lum[: h // 8, : w // 8].ravel(), lum[-h // 8 :, -w // 8 :].ravel()]
        )
        return float(corners.mean() / lum[3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8].mean())

    assert corner_to_centre(after) < corner_to_centre(before) * 0.8


def inverted(before: Array, after: Array) -> None:
    assert np.abs(colour(before) + colour(after) - 255).mean() < 2


def posterized(levels: int) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        for band in range(3):
            assert len(np.unique(colour(after)[..., band])) <= levels

    return check


def pixelated(before: Array, after: Array) -> None:
    assert after.shape == before.shape
    lum = luminance(after)
    # Neighbouring pixels are mostly equal: most of the image is flat blocks.
    assert (np.diff(lum, axis=1) == 0).mean() > 0.85


def turned(k: int) -> Callable[[Array, Array], None]:
    """np.rot90 turns counter-clockwise for positive k."""

    def check(before: Array, after: Array) -> None:
        assert np.array_equal(np.rot90(colour(before), k), colour(after))

    return check


def rotated_freely(before: Array, after: Array) -> None:
    assert after.shape[2] in (2, 4)  # transparent corners
    assert after[0, 0, -1] == 0
    assert after.shape[0] > before.shape[0]


def mirrored(axis: int) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        assert np.array_equal(np.flip(colour(before), axis), colour(after))

    return check


def aspect(width: int, height: int) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        h, w = after.shape[:2]
        assert abs(w / h - width / height) < 0.01
        assert w == before.shape[1] or h == before.shape[0]  # the largest such crop

    return check


def size(width: int | None, height: int | None) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        h, w = before.shape[:2]
        expected_w = width or round(w * (height or h) / h)
        expected_h = height or round(h * (width or w) / w)
        assert abs(after.shape[1] - expected_w) <= 1
        assert abs(after.shape[0] - expected_h) <= 1

    return check


def scaled(factor: float) -> Callable[[Array, Array], None]:
    def check(before: Array, after: Array) -> None:
        assert abs(after.shape[1] - before.shape[1] * factor) <= 1
        assert abs(after.shape[0] - before.shape[0] * factor) <= 1

    return check


def background_blurred(before: Array, after: Array) -> None:
    assert sharpness(after[FACE]) > 0.6 * sharpness(before[FACE])
    for corner in CORNERS:
        assert sharpness(after[corner]) < 0.5 * sharpness(before[corner])


def portrait_look(before: Array, after: Array) -> None:
    """The look, not a crop: the same size, the background blurred, the corners a little darker."""
    assert after.shape == before.shape
    background_blurred(before, after)
    for corner in CORNERS:
        assert luminance(after[corner]).mean() < luminance(before[corner]).mean() * 0.97


def background_darkened(before: Array, after: Array) -> None:
    assert luminance(after[FACE]).mean() > 0.9 * luminance(before[FACE]).mean()
    for corner in CORNERS:
        assert luminance(after[corner]).mean() < 0.8 * luminance(before[corner]).mean()


def background_grey(before: Array, after: Array) -> None:
    assert chroma(after[FACE]) > 0.7 * chroma(before[FACE])
    for corner in CORNERS:
        assert chroma(after[corner]) < 0.4 * chroma(before[corner]) + 1


def background_removed(before: Array, after: Array) -> None:
    assert after.shape[2] == 4
    alpha = after[..., 3]
    assert alpha[FACE].mean() > 200
    for corner in CORNERS:
        assert alpha[corner].mean() < 60


def sketched(before: Array, after: Array) -> None:
    assert chroma(after) < 3
    assert luminance(after).mean() > luminance(before).mean()  # dark lines on paper


def cartooned(before: Array, after: Array) -> None:
    def colours(array: Array) -> int:
        small = (colour(array)[::4, ::4] // 8).astype(np.int64)
        return len(np.unique(small[..., 0] * 1024 + small[..., 1] * 32 + small[..., 2]))

    assert colours(after) < 0.8 * colours(before)
    assert chroma(after) > 0.5 * chroma(before)


def painted(before: Array, after: Array) -> None:
    assert sharpness(after) < 0.8 * sharpness(before)
    assert chroma(after) > 0.5 * chroma(before)
    assert correlation(luminance(before), luminance(after)) > 0.7


def grey_then_quarter_turn(before: Array, after: Array) -> None:
    assert chroma(after) < 1.5
    assert after.shape[:2] == before.shape[1::-1]


def warm_and_bright(before: Array, after: Array) -> None:
    warmer(before, after)
    brighter(0.05)(before, after)


def square_and_small(before: Array, after: Array) -> None:
    assert after.shape[0] == after.shape[1] == 256


# Inputs that are not one of the sample photos as they ship. ------------------------------------


@cache
def dull_photo() -> bytes:
    """The coffee photo with its tones squeezed into 70..170."""
    image = pyvips.Image.new_from_buffer(photo("coffee"), "")
    data: bytes = (image.linear(100 / 255, 70)).cast("uchar").write_to_buffer(".png")
    return data


@cache
def noisy_photo() -> bytes:
    rng = np.random.default_rng(7)
    clean = pixels_of("chelsea")
    noisy = np.clip(clean + rng.normal(0, 18, clean.shape), 0, 255).astype(np.uint8)
    image = pyvips.Image.new_from_array(noisy).copy(interpretation="srgb")
    data: bytes = image.write_to_buffer(".png")
    return data


INPUTS: dict[str, Callable[[], bytes]] = {
    "dull": dull_photo,
    "noisy": noisy_photo,
}


def input_bytes(name: str) -> bytes:
    return INPUTS[name]() if name in INPUTS else photo(name)


@dataclass(frozen=True)
class Case:
    prompt: str
    photo: str
    check: Callable[[Array, Array], None]


CASES = [
    # black and white
    Case("make it black and white", "coffee", grey),
    Case("Could you please convert this photo to B&W?", "chelsea", grey),
    Case("monochrome", "rocket", grey),
    Case("remove the colour", "astronaut", grey),
    Case("greyscale please", "coffee", grey),
    Case("turn it grayscale, thanks!", "chelsea", grey),
    # light
    Case("make it brighter", "coffee", brighter(0.1)),
    Case("brighten it a lot", "chelsea", brighter(0.25)),
    Case("lighten it slightly", "rocket", brighter(0.03)),
    Case("increase the brightness by 30%", "astronaut", brighter(0.15)),
    Case("make it darker", "coffee", darker(0.1)),
    Case("darken it by 40%", "chelsea", darker(0.25)),
    Case("dim it a little", "rocket", darker(0.03)),
    Case("increase the exposure by 1 stop", "coffee", brighter(0.2)),
    Case("it's underexposed", "chelsea", brighter(0.1)),
    Case("fix the exposure", "dull", stretched),
    Case("enhance the lighting", "dull", stretched),
    Case("auto levels", "dull", stretched),
    # contrast and colour
    Case("increase the contrast", "coffee", more_contrast),
    Case("make it punchier", "chelsea", more_contrast),
    Case("reduce the contrast", "astronaut", less_contrast),
    Case("more saturated", "coffee", more_colour),
    Case("boost the colours a lot", "chelsea", more_colour),
    Case("make the colours more vivid", "rocket", more_colour),
    Case("mute the colours", "astronaut", less_colour),
    Case("less saturation", "coffee", less_colour),
    Case("add some vibrance", "chelsea", vibrant),
    Case("sepia", "coffee", sepia_toned),
    Case("give it a sepia tone", "astronaut", sepia_toned),
    Case("make it look vintage", "chelsea", faded_and_warm),
    Case("make it look like an old photo", "rocket", faded_and_warm),
    Case("warm up the light", "coffee", warmer),
    Case("make it warmer", "astronaut", warmer),
    Case("cool it down", "chelsea", cooler),
    Case("cooler tones please", "rocket", cooler),
    Case("invert the colours", "coffee", inverted),
    Case("make it a negative", "chelsea", inverted),
    Case("posterize to 4 levels", "astronaut", posterized(4)),
    # detail
    Case("sharpen it", "chelsea", sharper),
    Case("make it crisper", "coffee", sharper),
    Case("blur it", "astronaut", blurred(0.3)),
    Case("blur it slightly", "rocket", blurred(0.6)),
    Case("gaussian blur 10px", "coffee", blurred(0.1)),
    Case("make it out of focus", "chelsea", blurred(0.3)),
    Case("remove the noise", "noisy", denoised),
    Case("reduce the grain", "noisy", denoised),
    Case("add a vignette", "coffee", vignetted),
    Case("darken the corners", "rocket", vignetted),
    Case("pixelate it", "chelsea", pixelated),
    # geometry
    Case("rotate 90 degrees clockwise", "chelsea", turned(-1)),
    Case("rotate it ninety degrees to the left", "coffee", turned(1)),
    Case("turn it upside down", "rocket", turned(2)),
    Case("rotate by 180°", "astronaut", turned(2)),
    Case("rotate 30 degrees", "coffee", rotated_freely),
    Case("flip horizontally", "chelsea", mirrored(1)),
    Case("mirror the image", "rocket", mirrored(1)),
    Case("flip it vertically", "coffee", mirrored(0)),
    Case("crop to 16:9", "astronaut", aspect(16, 9)),
    Case("make it square", "coffee", aspect(1, 1)),
    Case("crop it to a 4:5 portrait", "rocket", aspect(4, 5)),
    Case("resize to 200 px wide", "chelsea", size(200, None)),
    Case("make it 300x200", "coffee", size(300, 200)),
    Case("half the size", "astronaut", scaled(0.5)),
    Case("upscale 2x", "chelsea", scaled(2)),
    # subject-aware
    Case("blur the background", "astronaut", background_blurred),
    Case("portrait mode please", "astronaut", background_blurred),
    Case("make it look like a portrait photo", "astronaut", portrait_look),
    Case("darken the background", "astronaut", background_darkened),
    Case("make the background black and white", "astronaut", background_grey),
    Case("remove the background", "astronaut", background_removed),
    Case("cut out the subject", "astronaut", background_removed),
    # styles
    Case("turn it into a pencil sketch", "chelsea", sketched),
    Case("make it look like a cartoon", "coffee", cartooned),
    Case("make it look like an oil painting", "chelsea", painted),
    # several clauses
    Case("make it black and white, then rotate it 90 degrees", "coffee", grey_then_quarter_turn),
    Case("warm it up and make it brighter", "chelsea", warm_and_bright),
    Case("crop to square and resize to 256 px wide", "rocket", square_and_small),
]

REFUSED = [
    "add a hat to the cat",
    "put a rainbow in the sky",
    "replace the sky with a sunset",
    "remove the person on the left",
    "make him smile",
    "turn the cat into a dog",
    "generate a castle in the background",
    "change her hair colour to red",
    "asdfghjkl",
    "banana",
    "make it brighter and add a moon",
    "???",
]


@pytest.fixture(scope="module")
def editor() -> LocalEditingProvider:
    return LocalEditingProvider()


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({case.prompt for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.prompt for case in CASES])
def test_prompt_does_what_it_says(editor: LocalEditingProvider, case: Case) -> None:
    data = input_bytes(case.photo)
    outcome = editor.edit(EditRequest(image=data, prompt=case.prompt, enhanced_prompt=None))
    before = as_array(pyvips.Image.new_from_buffer(data, ""))
    after = as_array(
        outcome.image.cast("uchar") if outcome.image.format != "uchar" else outcome.image
    )
    case.check(before, after)
    assert outcome.plan, "the plan is reported with the edit"


@pytest.mark.parametrize("prompt", REFUSED)
def test_what_it_cannot_do_is_refused_with_help(editor: LocalEditingProvider, prompt: str) -> None:
    with pytest.raises(EditingError) as refused:
        editor.edit(EditRequest(image=photo("chelsea"), prompt=prompt, enhanced_prompt=None))
    message = refused.value.user_message
    assert refused.value.retryable is False
    assert "did not understand" in message
    assert "Try" in message
    assert "black and white" in message
