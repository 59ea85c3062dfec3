"""Every operation of the offline editor, each judged on a real photograph (scikit-image's
samples) by a pixel measurement that a wrong edit fails.

The measurement helpers at the top take numpy arrays (height x width x bands) so that other
tests can reuse them.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest
import pyvips
from skimage import data as samples

from mizual.kit.imaging import encode_result, load
from mizual.localedit.findings import NothingToChange
from mizual.localedit.operations import OPERATIONS, apply_plan, streams
from mizual.localedit.plan import CATALOGUE, EditPlan, validate_step

Array = np.ndarray

# The astronaut's face, and two corners of pure background (flag and wall).
FACE = (slice(80, 150), slice(190, 260))
CORNERS = ((slice(0, 60), slice(0, 60)), (slice(0, 60), slice(452, 512)))


# Measurements ----------------------------------------------------------------------------------


def as_array(image: pyvips.Image) -> Array:
    array = np.asarray(image.numpy(), dtype=np.float64)
    return array[..., None] if array.ndim == 2 else array


def colour(array: Array) -> Array:
    """The colour bands as RGB (a grey image repeated), alpha dropped."""
    if array.shape[2] in (1, 2):
        return np.repeat(array[..., :1], 3, axis=2)
    return array[..., :3]


def luminance(array: Array) -> Array:
    rgb = colour(array)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def spread(array: Array) -> Array:
    """Per pixel, the largest minus the smallest of R, G and B: 0 for a grey."""
    rgb = colour(array)
    return rgb.max(axis=2) - rgb.min(axis=2)


def chroma(array: Array) -> float:
    return float(spread(array).mean())


def sharpness(array: Array) -> float:
    """Variance of the Laplacian of the luminance: falls with blur, rises with sharpening."""
    return float(cv2.Laplacian(luminance(array).astype(np.float32), cv2.CV_32F).var())


def correlation(a: Array, b: Array) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def channel_means(array: Array) -> tuple[float, float, float]:
    rgb = colour(array)
    red, green, blue = (float(rgb[..., band].mean()) for band in range(3))
    return red, green, blue


def corner_to_centre(array: Array) -> float:
    """Mean luminance of two corner eighths over that of the central quarter."""
    lum = luminance(array)
    h, w = lum.shape
    corners = np.concatenate([lum[: h // 8, : w // 8].ravel(), lum[-h // 8 :, -w // 8 :].ravel()])
    return float(corners.mean() / lum[3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8].mean())


def distinct_colours(array: Array) -> int:
    """Distinct colours on a subsampled grid, each channel in 32 bins."""
    binned = (colour(array)[::4, ::4] // 8).astype(np.int64)
    return len(np.unique(binned[..., 0] * 1024 + binned[..., 1] * 32 + binned[..., 2]))


# Photos and helpers ----------------------------------------------------------------------------


@cache
def photo(name: str) -> pyvips.Image:
    pixels = np.ascontiguousarray(getattr(samples, name)())
    image = pyvips.Image.new_from_array(pixels)
    return image.copy(interpretation="b-w" if pixels.ndim == 2 else "srgb")


def from_array(pixels: Array) -> pyvips.Image:
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels.astype(np.uint8)))
    return image.copy(interpretation="b-w" if image.bands in (1, 2) else "srgb")


def edit(image: pyvips.Image, operation: str, **params: object) -> Array:
    """The operation with the catalogue's defaults for what is not given, as an array."""
    step = validate_step(operation, dict(params))
    result = OPERATIONS[operation](image, **step.params)
    assert result.format == "uchar"
    return as_array(result)


def dull(name: str) -> pyvips.Image:
    """The photo with its tones squeezed into 70..170."""
    return photo(name).linear(100 / 255, 70).cast("uchar")


# The catalogue ---------------------------------------------------------------------------------


def test_every_operation_of_the_catalogue_is_implemented() -> None:
    assert set(OPERATIONS) == set(CATALOGUE)


REQUIRED_PARAMS: dict[str, dict[str, object]] = {
    "rotate": {"degrees": 90},
    "crop": {"ratio_width": 16, "ratio_height": 9},
    "resize": {"scale": 0.5},
}


def source_for(operation: str) -> pyvips.Image:
    """The astronaut; for red eye, the astronaut with red pupils (her eyes are brown); for
    straightening (she has no straight lines) the cameraman turned by 4 degrees."""
    if operation == "straighten":
        turned = photo("camera").rotate(4)
        return turned.crop((turned.width - 440) // 2, (turned.height - 440) // 2, 440, 440)
    if operation == "red_eye":
        pixels = as_array(photo("astronaut")).copy()
        rows, columns = np.mgrid[0:512, 0:512]
        for x, y in ((203, 102), (246, 103)):  # her pupils, found by hand
            pixels[(columns - x) ** 2 + (rows - y) ** 2 <= 12] = (210, 40, 35)
        return from_array(pixels)
    return photo("astronaut")


@pytest.mark.parametrize("operation", sorted(CATALOGUE))
def test_streamed_decoding_gives_the_same_pixels_as_whole_decoding(operation: str) -> None:
    """A plan the editor decodes in strips must read the photo once, in order: libvips fails
    on a second or out-of-order read, so this catches an operation that is wrongly said to
    stream, and shows that streaming changes nothing in the result."""
    step = validate_step(operation, dict(REQUIRED_PARAMS.get(operation, {})))
    plan = EditPlan(steps=[step])
    # Big enough that libvips cannot keep the whole photo in the strip cache of a streamed read.
    jpeg = source_for(operation).resize(4).write_to_buffer(".jpg", Q=90)
    whole = encode_result(apply_plan(load(jpeg), plan))
    streamed = encode_result(apply_plan(load(jpeg, sequential=streams(plan)), plan))
    assert streamed.data == whole.data


# Light -----------------------------------------------------------------------------------------


def test_brightness_raises_and_lowers_the_mean_luminance() -> None:
    before = luminance(as_array(photo("coffee"))).mean()
    assert luminance(edit(photo("coffee"), "brightness", amount=0.25)).mean() > before * 1.15
    assert luminance(edit(photo("coffee"), "brightness", amount=-0.3)).mean() < before * 0.75


def test_exposure_works_in_linear_light() -> None:
    # Mid-grey (18% of the light, 118 in sRGB) gets 36% of the light with one stop more: 161,
    # where doubling the sRGB value would give 236.
    grey = from_array(np.full((8, 8, 3), 118))
    assert np.abs(edit(grey, "exposure", stops=1) - 161).max() <= 1
    assert np.abs(edit(grey, "exposure", stops=-1) - 84).max() <= 1
    before = luminance(as_array(photo("chelsea"))).mean()
    assert luminance(edit(photo("chelsea"), "exposure", stops=0.5)).mean() > before * 1.1


def test_contrast_spreads_and_squeezes_the_tones() -> None:
    before = luminance(as_array(photo("chelsea"))).std()
    assert luminance(edit(photo("chelsea"), "contrast", amount=0.3)).std() > before * 1.15
    assert luminance(edit(photo("chelsea"), "contrast", amount=-0.3)).std() < before * 0.8


def test_auto_levels_stretches_a_dull_photo_to_black_and_white() -> None:
    before = luminance(as_array(dull("coffee")))
    assert np.percentile(before, 0.5) > 65
    assert np.percentile(before, 99.5) < 175
    after = edit(dull("coffee"), "auto_levels")
    low, high = np.percentile(luminance(after), [0.5, 99.5])
    assert low < 12
    assert high > 243
    # One curve for every channel: the tones move, the picture stays the same.
    assert correlation(before, luminance(after)) > 0.99


def test_temperature_warms_and_cools_keeping_the_light() -> None:
    before = as_array(photo("coffee"))
    red, _, blue = channel_means(before)
    warm = edit(photo("coffee"), "temperature", amount=0.3)
    cool = edit(photo("coffee"), "temperature", amount=-0.3)
    warm_red, _, warm_blue = channel_means(warm)
    cool_red, _, cool_blue = channel_means(cool)
    assert warm_red / warm_blue > 1.1 * red / blue
    assert cool_red / cool_blue < 0.9 * red / blue
    for after in (warm, cool):
        assert abs(luminance(after).mean() / luminance(before).mean() - 1) < 0.06


# Colour ----------------------------------------------------------------------------------------


def test_saturation_raises_colour_and_removes_it_at_minus_one() -> None:
    before = chroma(as_array(photo("chelsea")))
    assert chroma(edit(photo("chelsea"), "saturation", amount=0.5)) > before * 1.3
    muted = edit(photo("chelsea"), "saturation", amount=-1)
    assert chroma(muted) < 1
    assert correlation(luminance(muted), luminance(as_array(photo("chelsea")))) > 0.99


def test_vibrance_gives_dull_pixels_more_colour_than_vivid_ones() -> None:
    before = spread(as_array(photo("chelsea")))
    after = spread(edit(photo("chelsea"), "vibrance", amount=0.6))
    dull_pixels = before < np.percentile(before, 30)
    vivid_pixels = before > np.percentile(before, 90)
    gain_dull = after[dull_pixels].mean() / before[dull_pixels].mean()
    gain_vivid = after[vivid_pixels].mean() / before[vivid_pixels].mean()
    assert gain_dull > 1.15
    assert gain_dull > gain_vivid + 0.1


def test_grayscale_leaves_no_colour() -> None:
    before = as_array(photo("astronaut"))
    after = edit(photo("astronaut"), "grayscale")
    assert after.shape[2] == 1
    assert chroma(after) == 0
    assert np.abs(after[..., 0] - luminance(before)).max() <= 1


def test_sepia_is_brown_and_keeps_the_picture() -> None:
    before = as_array(photo("astronaut"))
    after = edit(photo("astronaut"), "sepia")
    red, green, blue = channel_means(after)
    assert red > green > blue
    assert red - blue > 15
    # Every pixel has the same tint (where red is neither too dark nor clipped): no hue is left.
    red_band, blue_band = colour(after)[..., 0], colour(after)[..., 2]
    measurable = (red_band > 40) & (red_band < 250)
    assert np.std(blue_band[measurable] / red_band[measurable]) < 0.02
    assert correlation(luminance(before), luminance(after)) > 0.97
    assert np.array_equal(edit(photo("astronaut"), "sepia", amount=0), before)


def test_vintage_is_warm_faded_and_dark_in_the_corners() -> None:
    before = as_array(photo("rocket"))
    after = edit(photo("rocket"), "vintage")
    red, _, blue = channel_means(before)
    after_red, _, after_blue = channel_means(after)
    assert after_red - after_blue > red - blue + 10
    assert np.percentile(luminance(after), 1) > np.percentile(luminance(before), 1) + 15
    flat = edit(from_array(np.full((300, 400, 3), 128)), "vintage")
    assert corner_to_centre(flat) < 0.85


def test_invert_is_the_negative() -> None:
    before = as_array(photo("coffee"))
    assert np.array_equal(before + edit(photo("coffee"), "invert"), np.full(before.shape, 255.0))


@pytest.mark.parametrize("levels", [2, 4, 7])
def test_posterize_leaves_at_most_that_many_tones_per_channel(levels: int) -> None:
    after = edit(photo("astronaut"), "posterize", levels=levels)
    for band in range(3):
        tones = np.unique(after[..., band])
        assert len(tones) <= levels
        assert tones.min() == 0
        assert tones.max() == 255


# Detail ----------------------------------------------------------------------------------------


def test_sharpen_raises_the_fine_detail() -> None:
    before = as_array(photo("chelsea"))
    after = edit(photo("chelsea"), "sharpen", amount=1)
    assert sharpness(after) > sharpness(before) * 1.3
    assert correlation(luminance(before), luminance(after)) > 0.97
    assert sharpness(edit(photo("chelsea"), "sharpen", amount=2)) > sharpness(after)


def test_blur_lowers_the_fine_detail() -> None:
    before = as_array(photo("astronaut"))
    slightly = edit(photo("astronaut"), "blur", sigma=1)
    strongly = edit(photo("astronaut"), "blur", sigma=8)
    assert sharpness(strongly) < sharpness(slightly) < sharpness(before) * 0.5
    assert strongly.shape == before.shape


def test_denoise_removes_grain_and_keeps_the_picture() -> None:
    clean = as_array(photo("chelsea"))
    rng = np.random.default_rng(7)
    noisy = np.clip(clean + rng.normal(0, 18, clean.shape), 0, 255)
    after = edit(from_array(noisy), "denoise", strength=1)
    assert sharpness(after) < sharpness(noisy) * 0.5
    # Closer to the clean photo than the noisy one was.
    assert np.std(after - clean) < 0.6 * np.std(noisy - clean)
    assert abs(luminance(after).mean() - luminance(clean).mean()) < 3


def test_vignette_darkens_the_corners_not_the_centre() -> None:
    before = as_array(photo("coffee"))
    after = edit(photo("coffee"), "vignette", amount=0.4)
    assert corner_to_centre(after) < corner_to_centre(before) * 0.8
    h, w = before.shape[:2]
    centre = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    assert np.array_equal(after[centre], before[centre])
    black_corners = edit(photo("coffee"), "vignette", amount=1)
    assert black_corners[0, 0].max() <= 1
    assert black_corners[-1, -1].max() <= 1


# Pixels and geometry ---------------------------------------------------------------------------


def test_pixelate_makes_flat_square_blocks() -> None:
    before = as_array(photo("chelsea"))  # 451 x 300: not a whole number of blocks
    after = edit(photo("chelsea"), "pixelate", block=16)
    assert after.shape == before.shape
    for top in range(0, 300, 16):
        for left in range(0, 451, 16):
            block = after[top : top + 16, left : left + 16]
            assert np.array_equal(block, np.broadcast_to(block[0, 0], block.shape))
    # Each block is the mean of the photo there.
    assert np.abs(after[:16, :16, 0].mean() - before[:16, :16, 0].mean()) <= 1
    default = edit(photo("chelsea"), "pixelate")  # blocks of 8: 451 / 64 rounded up
    assert (np.diff(luminance(default), axis=1) == 0).mean() > 0.85


@pytest.mark.parametrize(("degrees", "turns"), [(90, -1), (180, 2), (270, 1), (-90, 1)])
def test_quarter_turns_are_lossless(degrees: float, turns: int) -> None:
    before = as_array(photo("rocket"))
    after = edit(photo("rocket"), "rotate", degrees=degrees)
    assert np.array_equal(after, np.rot90(before, turns))  # np.rot90 turns counter-clockwise


def test_other_angles_leave_transparent_corners() -> None:
    before = as_array(photo("coffee"))
    after = edit(photo("coffee"), "rotate", degrees=33)
    assert after.shape[2] == 4
    assert after.shape[0] > before.shape[0]
    assert after.shape[1] > before.shape[1]
    height, width = after.shape[:2]
    for y, x in ((0, 0), (0, width - 1), (height - 1, 0), (height - 1, width - 1)):
        assert after[y, x, 3] == 0
    assert after[height // 2, width // 2, 3] == 255
    # Clockwise: the photo's top-left corner moves right, into the top row's first half.
    opaque_top = np.flatnonzero(after[2, :, 3] > 0)
    assert 0 < opaque_top.mean() < width / 2


@pytest.mark.parametrize(("direction", "axis"), [("horizontal", 1), ("vertical", 0)])
def test_flip_mirrors_exactly(direction: str, axis: int) -> None:
    before = as_array(photo("chelsea"))
    assert np.array_equal(
        edit(photo("chelsea"), "flip", direction=direction), np.flip(before, axis)
    )


@pytest.mark.parametrize(
    ("name", "ratio", "size"),
    [
        ("astronaut", (16, 9), (512, 288)),  # 512 x 512
        ("coffee", (1, 1), (400, 400)),  # 600 x 400
        ("rocket", (4, 5), (342, 427)),  # 640 x 427
        ("chelsea", (3, 2), (450, 300)),  # 451 x 300: already almost 3:2
    ],
)
def test_crop_is_the_largest_centred_crop_of_that_shape(
    name: str, ratio: tuple[int, int], size: tuple[int, int]
) -> None:
    before = as_array(photo(name))
    after = edit(photo(name), "crop", ratio_width=ratio[0], ratio_height=ratio[1])
    width, height = size
    assert after.shape[:2] == (height, width)
    top, left = (before.shape[0] - height) // 2, (before.shape[1] - width) // 2
    assert np.array_equal(after, before[top : top + height, left : left + width])


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"scale": 0.5}, (226, 150)),
        ({"scale": 2.0}, (902, 600)),
        ({"width": 200}, (200, 133)),
        ({"height": 100}, (150, 100)),
        ({"width": 300, "height": 200}, (300, 200)),
        ({"width": 1000, "height": 90}, (1000, 90)),
    ],
)
def test_resize_gives_exactly_the_size_asked(
    params: dict[str, float], size: tuple[int, int]
) -> None:
    before = as_array(photo("chelsea"))  # 451 x 300
    after = edit(photo("chelsea"), "resize", **params)
    assert after.shape == (size[1], size[0], 3)
    assert abs(after.mean() - before.mean()) < 3  # the same picture, not a blank one


# The subject and the background ----------------------------------------------------------------


def test_blur_background_keeps_the_face_sharp() -> None:
    before = as_array(photo("astronaut"))
    after = edit(photo("astronaut"), "blur_background", sigma=8)
    assert sharpness(after[FACE]) > 0.8 * sharpness(before[FACE])
    for corner in CORNERS:
        assert sharpness(after[corner]) < 0.3 * sharpness(before[corner])


def test_darken_background_keeps_the_face_bright() -> None:
    before = as_array(photo("astronaut"))
    after = edit(photo("astronaut"), "darken_background", amount=0.5)
    assert luminance(after[FACE]).mean() > 0.95 * luminance(before[FACE]).mean()
    for corner in CORNERS:
        assert luminance(after[corner]).mean() < 0.6 * luminance(before[corner]).mean()


def test_desaturate_background_keeps_the_face_in_colour() -> None:
    before = as_array(photo("astronaut"))
    after = edit(photo("astronaut"), "desaturate_background")
    assert chroma(after[FACE]) > 0.9 * chroma(before[FACE])
    for corner in CORNERS:
        assert chroma(after[corner]) < 0.2 * chroma(before[corner]) + 1


def test_remove_background_makes_the_background_transparent() -> None:
    before = as_array(photo("astronaut"))
    image = OPERATIONS["remove_background"](photo("astronaut"))
    after = as_array(image)
    assert after.shape[2] == 4
    assert np.array_equal(after[..., :3], before)
    alpha = after[..., 3]
    assert alpha[FACE].mean() > 240
    for corner in CORNERS:
        assert alpha[corner].mean() < 20
    assert encode_result(image).content_type == "image/png"


def test_remove_background_without_a_face_keeps_the_middle() -> None:
    alpha = edit(photo("coffee"), "remove_background")[..., 3]  # a cup on a table, from above
    assert alpha[150:250, 250:350].mean() > 240  # the coffee in the cup
    assert alpha[:40, :40].mean() < 20
    assert alpha[:40, -40:].mean() < 20


# Styles ----------------------------------------------------------------------------------------


def test_sketch_is_grey_lines_on_white_paper() -> None:
    before = as_array(photo("chelsea"))
    after = edit(photo("chelsea"), "sketch")
    assert after.shape[2] == 1
    lum = luminance(after)
    assert np.median(lum) > 200  # mostly paper
    assert (lum < 128).mean() > 0.005  # with strokes,
    assert sharpness(after) > 3 * sharpness(before)  # thin lines: far more edge than a photo


def test_cartoon_has_flat_colours_and_black_outlines() -> None:
    before = as_array(photo("coffee"))
    after = edit(photo("coffee"), "cartoon")
    assert distinct_colours(after) < 0.5 * distinct_colours(before)
    assert chroma(after) > 0.7 * chroma(before)
    assert (colour(after).max(axis=2) == 0).mean() > 0.03  # black outlines
    assert after.shape == before.shape


def test_painting_smooths_detail_but_keeps_colour_and_shapes() -> None:
    before = as_array(photo("chelsea"))
    after = edit(photo("chelsea"), "painting")
    assert sharpness(after) < 0.8 * sharpness(before)
    assert chroma(after) > 0.5 * chroma(before)
    assert correlation(luminance(before), luminance(after)) > 0.8
    assert after.shape == before.shape


def test_styles_of_a_big_photo_come_back_at_full_size() -> None:
    big = photo("coffee").resize(3.5)  # 2100 x 1400: drawn smaller, then scaled back
    for operation in ("cartoon", "painting"):
        assert edit(big, operation).shape == (1400, 2100, 3)


# Transparency, grey and 16-bit photos, plans ---------------------------------------------------


def with_alpha() -> pyvips.Image:
    """The astronaut with a left-to-right transparency ramp."""
    pixels = np.asarray(photo("astronaut").numpy())
    ramp = np.tile(np.linspace(0, 255, 512).astype(np.uint8), (512, 1))
    return from_array(np.dstack([pixels, ramp]))


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("brightness", {}),
        ("contrast", {}),
        ("saturation", {}),
        ("vibrance", {}),
        ("grayscale", {}),
        ("sepia", {}),
        ("vintage", {}),
        ("temperature", {}),
        ("exposure", {}),
        ("auto_levels", {}),
        ("sharpen", {}),
        ("denoise", {}),
        ("vignette", {}),
        ("invert", {}),
        ("posterize", {}),
        ("flip", {}),
        ("crop", {"ratio_width": 1, "ratio_height": 1}),
        ("sketch", {}),
        ("painting", {}),
    ],
)
def test_transparency_survives(operation: str, params: dict[str, object]) -> None:
    image = with_alpha()
    after = edit(image, operation, **params)
    assert after.shape[2] in (2, 4)
    expected = as_array(image)[..., 3]
    if operation == "flip":
        expected = np.flip(expected, 1)
    assert np.array_equal(after[..., -1], expected[: after.shape[0], : after.shape[1]])


def test_transparency_survives_resampling_without_dark_fringes() -> None:
    image = with_alpha()
    for operation, params in (("blur", {"sigma": 3}), ("resize", {"scale": 0.5})):
        after = edit(image, operation, **params)
        assert after.shape[2] == 4
        # Premultiplied: pixels next to transparent ones keep their colour, not blend to black.
        visible = after[..., 3] > 10
        assert abs(luminance(after)[visible].mean() - luminance(as_array(image)).mean()) < 12


def plan(*steps: tuple[str, dict[str, object]]) -> EditPlan:
    return EditPlan(tuple(validate_step(operation, dict(params)) for operation, params in steps))


def test_a_grey_photo_goes_through_every_operation() -> None:
    camera = source_for("straighten")  # the cameraman, one band, a little turned
    for operation, spec in CATALOGUE.items():
        if operation in ("white_balance", "red_eye"):
            with pytest.raises(NothingToChange, match="no colour"):
                apply_plan(camera, plan((operation, {})))
            continue
        params: dict[str, object] = {}
        if "degrees" in spec.params:
            params = {"degrees": 33}
        elif "ratio_width" in spec.params:
            params = {"ratio_width": 4, "ratio_height": 3}
        elif operation == "resize":
            params = {"width": 100}
        result = apply_plan(camera, plan((operation, params)))
        assert result.format == "uchar", operation
        assert result.interpretation in ("b-w", "srgb"), operation
        encode_result(result)
    sepia = as_array(apply_plan(camera, plan(("sepia", {}))))
    assert sepia.shape[2] == 3
    assert chroma(sepia) > 10


def test_a_16_bit_photo_is_edited_as_8_bit() -> None:
    eight = np.asarray(photo("astronaut").numpy(), dtype=np.uint16)
    sixteen = pyvips.Image.new_from_array(eight * 257).copy(interpretation="rgb16")
    result = apply_plan(sixteen, plan(("invert", {})))
    assert result.format == "uchar"
    assert result.interpretation == "srgb"
    assert np.abs(as_array(result) - (255 - eight)).max() <= 1
    grey16 = pyvips.Image.new_from_array(np.asarray(photo("camera").numpy(), np.uint16) * 257)
    result = apply_plan(grey16.copy(interpretation="grey16"), plan(("brightness", {})))
    assert result.format == "uchar"
    assert result.bands == 1


def test_a_plan_applies_its_steps_in_order() -> None:
    before = as_array(photo("coffee"))
    result = apply_plan(photo("coffee"), plan(("grayscale", {}), ("rotate", {"degrees": 90})))
    after = as_array(result)
    assert after.shape[:2] == before.shape[1::-1]
    assert chroma(after) == 0
    encoded = encode_result(result)
    assert encoded.content_type == "image/jpeg"


def test_a_cooler_white_turns_light_blue_not_cyan() -> None:
    """Near white, the gains ease off so nothing clips: a white sky made cooler is a pale blue
    (blue above green above red), not cyan (green and blue both at the top), and warmer a cream."""
    white = pyvips.Image.black(8, 8, bands=3).new_from_image([245, 245, 245]).cast("uchar")
    white = white.copy(interpretation="srgb")
    red, green, blue = as_array(OPERATIONS["temperature"](white, amount=-0.3))[0, 0][:3]
    assert blue > green + 8 > red + 16
    red, green, blue = as_array(OPERATIONS["temperature"](white, amount=0.3))[0, 0][:3]
    assert red > green + 8 > blue + 16
