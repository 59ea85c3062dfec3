"""The offline editor's evaluation of what it sees and of parts of a photo: face prompts and steps
on one half or on the faces, over real photographs, each judged on the pixels inside and outside
the part, and photos without faces refused by name.

The face boxes below were labelled by hand on scikit-image's photos (the eyes to the chin), not
taken from the detector. The two-face photo is two copies of the astronaut, at 300 px, on the
rocket photo: real faces at places known from the label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvips
from skimage import data as samples

from mizual.localedit import seeing as seeing_module
from mizual.localedit.findings import SeeingUnavailable
from mizual.localedit.seeing import BlazeFaceSeeing
from mizual.providers.editing.base import EditingError, EditRequest
from mizual.providers.editing.local import LocalEditingProvider

Box = tuple[int, int, int, int]  # x, y, width, height

ASTRONAUT_FACE: Box = (190, 80, 70, 70)
CAMERA_FACE: Box = (195, 135, 55, 60)
PAIR_SCALE = 300 / 512
PAIR_PLACES = ((40, 60), (600, 300))
# Photos with no human face: a rocket, a cup, a cat, galaxies, coins, cells, a clock, a horse.
FACELESS = (
    "rocket",
    "coffee",
    "chelsea",
    "hubble_deep_field",
    "coins",
    "immunohistochemistry",
    "clock",
    "horse",
)


def _rgb(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype != np.uint8:
        pixels = (pixels * 255).astype(np.uint8) if pixels.max() <= 1 else pixels.astype(np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


# Real photos scikit-image does not ship (see photos/README.md).
PHOTOS = Path(__file__).parent / "photos"


@cache
def pixels(name: str) -> np.ndarray:
    if (PHOTOS / f"{name}.jpg").exists():
        bgr = cv2.imread(str(PHOTOS / f"{name}.jpg"), cv2.IMREAD_COLOR)
        return np.ascontiguousarray(bgr[..., ::-1])
    if name == "pair":
        canvas = cv2.resize(_rgb(samples.rocket()), (1024, 683), interpolation=cv2.INTER_AREA)
        side = round(512 * PAIR_SCALE)
        small = cv2.resize(samples.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
        for x, y in PAIR_PLACES:
            canvas[y : y + side, x : x + side] = small[: canvas.shape[0] - y]
        return canvas
    return _rgb(getattr(samples, name)())


def faces_of(name: str) -> list[Box]:
    if name == "astronaut":
        return [ASTRONAUT_FACE]
    if name == "camera":
        return [CAMERA_FACE]
    if name == "pair":
        x, y, w, h = ASTRONAUT_FACE
        return [
            (
                left + round(x * PAIR_SCALE),
                top + round(y * PAIR_SCALE),
                round(w * PAIR_SCALE),
                round(h * PAIR_SCALE),
            )
            for left, top in PAIR_PLACES
        ]
    return []


@cache
def png(name: str) -> bytes:
    data: bytes = (
        pyvips.Image.new_from_array(pixels(name)).copy(interpretation="srgb").pngsave_buffer()
    )
    return data


def inner(box: Box) -> tuple[slice, slice]:
    x, y, w, h = box
    return slice(y, y + h), slice(x, x + w)


def far_from_faces(shape: tuple[int, ...], faces: list[Box]) -> np.ndarray:
    """True where no face is within two face sizes: what a face edit must leave alone."""
    keep = np.ones(shape[:2], bool)
    for x, y, w, h in faces:
        keep[max(0, y - 2 * h) : y + 3 * h, max(0, x - 2 * w) : x + 3 * w] = False
    return keep


def blockiness(patch: np.ndarray) -> float:
    """Share of neighbouring pixels with exactly the same colour: near 1 when pixelated."""
    same_across = np.all(patch[:, 1:] == patch[:, :-1], axis=2).mean()
    same_down = np.all(patch[1:] == patch[:-1], axis=2).mean()
    return float((same_across + same_down) / 2)


def detail(patch: np.ndarray) -> float:
    grey = cv2.cvtColor(patch.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F).var())


@dataclass(frozen=True)
class Case:
    prompt: str
    photo: str
    kind: str  # "blur" or "pixelate"


CASES = [
    Case("blur the faces", "astronaut", "blur"),
    Case("blur her face", "astronaut", "blur"),
    Case("please blur all faces", "astronaut", "blur"),
    Case("anonymise the faces", "astronaut", "blur"),
    Case("hide the faces", "camera", "blur"),
    Case("blur out his face", "camera", "blur"),
    Case("obscure the face", "camera", "blur"),
    Case("blur the faces", "pair", "blur"),
    Case("blur everyone's faces in this photo", "pair", "blur"),
    Case("pixelate the faces", "astronaut", "pixelate"),
    Case("pixelate all faces", "astronaut", "pixelate"),
    Case("censor the faces", "camera", "pixelate"),
    Case("mosaic the face", "camera", "pixelate"),
    Case("pixelate the faces", "pair", "pixelate"),
]


@pytest.fixture(scope="module")
def editor() -> LocalEditingProvider:
    return LocalEditingProvider()


def edited(
    editor: LocalEditingProvider, photo: str, prompt: str
) -> tuple[np.ndarray, np.ndarray, list[dict[str, object]]]:
    """The photo before and after the prompt, as RGB floats, and the plan shown with it."""
    outcome = editor.edit(EditRequest(image=png(photo), prompt=prompt, enhanced_prompt=None))
    before = pixels(photo).astype(np.float64)
    after = np.asarray(outcome.image.numpy(), dtype=np.float64)
    if after.ndim == 2:
        after = np.repeat(after[..., None], 3, axis=2)
    assert after[..., :3].shape == before.shape
    return before, after[..., :3], list(outcome.plan or [])


def changed_only_in(
    before: np.ndarray,
    after: np.ndarray,
    *,
    changed_boxes: list[Box],
    kept_boxes: list[Box],
    changed: Callable[[np.ndarray, np.ndarray], bool],
) -> None:
    for box in changed_boxes:
        assert changed(before[inner(box)], after[inner(box)]), f"{box} changed as asked"
    for box in kept_boxes:
        assert np.abs(after[inner(box)] - before[inner(box)]).max() <= 1, f"{box} kept"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.prompt} ({c.photo})" for c in CASES])
def test_face_prompt_changes_the_faces_and_nothing_far_from_them(
    editor: LocalEditingProvider, case: Case
) -> None:
    before, after, plan = edited(editor, case.photo, case.prompt)
    faces = faces_of(case.photo)
    for face in faces:
        region = inner(face)
        assert np.abs(after[region] - before[region]).mean() > 8, f"the face at {face} changed"
        if case.kind == "blur":
            assert detail(after[region]) < detail(before[region]) * 0.2
        else:
            assert blockiness(after[region]) > 0.6 > blockiness(before[region])
    far = far_from_faces(before.shape, faces)
    assert np.abs(after[far] - before[far]).max() <= 1, "nothing far from a face changed"
    found = f"{len(faces)} face{'' if len(faces) == 1 else 's'} found"
    assert [step.get("found") for step in plan] == [found]


@pytest.mark.parametrize("photo", FACELESS)
@pytest.mark.parametrize(
    ("prompt", "done"), [("blur the faces", "blurred"), ("pixelate all faces", "pixelated")]
)
def test_a_photo_without_faces_is_refused_by_name(
    editor: LocalEditingProvider, photo: str, prompt: str, done: str
) -> None:
    with pytest.raises(EditingError) as refused:
        editor.edit(EditRequest(image=png(photo), prompt=prompt, enhanced_prompt=None))
    assert (
        refused.value.user_message == f"No faces were found in this photo, so nothing was {done}."
    )
    assert refused.value.retryable is False
    assert refused.value.error_class == "refused"


def test_faces_are_found_where_they_were_labelled() -> None:
    detector = BlazeFaceSeeing()
    for name in ("astronaut", "camera", "pair"):
        found = detector.faces(pixels(name))
        labelled = faces_of(name)
        assert len(found) == len(labelled), name
        for x, y, w, h in labelled:
            centre = (x + w / 2, y + h / 2)
            assert any(
                f.x <= centre[0] <= f.x + f.width and f.y <= centre[1] <= f.y + f.height
                for f in found
            ), f"the face of {name} at {(x, y, w, h)}"
    for name in FACELESS:
        assert detector.faces(pixels(name)) == [], name


def test_tiny_faces_of_the_lfw_set_are_mostly_found_and_non_faces_never() -> None:
    """scikit-image's LFW subset: 100 faces and 100 non-faces, 25x25 grey crops (far smaller
    than a face in a photo); the rates are the ones docs/local-editor.md gives."""
    detector = BlazeFaceSeeing()
    crops = samples.lfw_subset()
    found = [bool(detector.faces(_rgb(crop))) for crop in crops]
    assert sum(found[:100]) >= 80
    assert sum(found[100:]) == 0


def test_without_opencvs_tflite_reader_a_face_edit_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(cv2.dnn, "readNetFromTFLite")
    seeing_module.seeing.cache_clear()
    try:
        with pytest.raises(SeeingUnavailable, match="finding faces needs an OpenCV"):
            BlazeFaceSeeing()
        with pytest.raises(EditingError) as refused:
            LocalEditingProvider().edit(
                EditRequest(image=png("astronaut"), prompt="blur the faces", enhanced_prompt=None)
            )
        assert "finding faces needs an OpenCV" in refused.value.user_message
        assert refused.value.error_class == "refused"
    finally:
        seeing_module.seeing.cache_clear()


# Parts of the photo: a step on one half, or on the faces, judged inside and outside the part. -


def luminance(array: np.ndarray) -> np.ndarray:
    rgb = array[..., :3]
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def chroma(array: np.ndarray) -> float:
    rgb = array[..., :3]
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())


def warmth(array: np.ndarray) -> float:
    return float((array[..., 0] - array[..., 2]).mean())


# What each change does to the pixels of its part: (before, after) -> whether it happened.
CHANGES = {
    "darker": lambda b, a: luminance(a).mean() < luminance(b).mean() * 0.85,
    "brighter": lambda b, a: luminance(a).mean() > luminance(b).mean() * 1.08,
    "grey": lambda b, a: chroma(a) < 1.5 < chroma(b),
    "blurred": lambda b, a: detail(a) < detail(b) * 0.5,
    "sharper": lambda b, a: detail(a) > detail(b) * 1.3,
    "warmer": lambda b, a: warmth(a) > warmth(b) + 5,
    "more contrast": lambda b, a: luminance(a).std() > luminance(b).std() * 1.1,
    "pixelated": lambda b, a: blockiness(a) > 0.6 > blockiness(b),
}


def halves(shape: tuple[int, ...], half: str) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """The outer quarter of the photo on the `half`'s side, and the outer quarter on the other
    side: well away from the soft edge in the middle."""
    height, width = shape[:2]
    top, bottom = (
        (slice(0, height // 4), slice(None)),
        (slice(height - height // 4, None), slice(None)),
    )
    left, right = (
        (slice(None), slice(0, width // 4)),
        (slice(None), slice(width - width // 4, None)),
    )
    return {
        "top half": (top, bottom),
        "bottom half": (bottom, top),
        "left half": (left, right),
        "right half": (right, left),
    }[half]


@dataclass(frozen=True)
class PartCase:
    prompt: str
    photo: str
    part: str  # "faces" or a half
    change: str  # a key of CHANGES


PART_CASES = [
    PartCase("darken the top half", "coffee", "top half", "darker"),
    PartCase("darken the top of the photo", "rocket", "top half", "darker"),
    PartCase("make the left half black and white", "chelsea", "left half", "grey"),
    PartCase("brighten the right side", "coffee", "right half", "brighter"),
    PartCase("blur the bottom half", "chelsea", "bottom half", "blurred"),
    PartCase("make the lower part of the image warmer", "rocket", "bottom half", "warmer"),
    PartCase("increase the contrast on the left side", "coffee", "left half", "more contrast"),
    PartCase("pixelate the upper half", "astronaut", "top half", "pixelated"),
    PartCase("make her face brighter", "astronaut", "faces", "brighter"),
    PartCase("brighten the faces", "pair", "faces", "brighter"),
    PartCase("sharpen the faces", "astronaut", "faces", "sharper"),
    PartCase("make everyone's faces black and white", "pair", "faces", "grey"),
    PartCase("warm up his face", "camera", "faces", "warmer"),  # a grey photo gains colour
    PartCase("make the person black and white", "astronaut", "people", "grey"),
    PartCase("brighten the person", "astronaut", "people", "brighter"),
    PartCase("pixelate the people", "camera", "people", "pixelated"),
    PartCase("make the man brighter", "camera", "people", "brighter"),
    PartCase("brighten the background", "astronaut", "background", "brighter"),
    PartCase("make the background warmer", "camera", "background", "warmer"),
]
# Boxes surely on the person and surely on the background, picked by eye on the photos: the
# astronaut's suit and face; the flag's corner and the wall by the rocket; the cameraman's coat
# and head; the sky and the grass.
PEOPLE_BOXES: dict[str, tuple[list[Box], list[Box]]] = {
    "astronaut": ([(120, 260, 120, 100), (190, 80, 70, 70)], [(0, 0, 40, 60), (440, 0, 72, 60)]),
    "camera": ([(40, 280, 80, 100), (200, 140, 40, 50)], [(300, 0, 212, 90), (460, 440, 52, 72)]),
}


@pytest.mark.parametrize("case", PART_CASES, ids=[f"{c.prompt} ({c.photo})" for c in PART_CASES])
def test_a_step_on_a_part_changes_that_part_only(
    editor: LocalEditingProvider, case: PartCase
) -> None:
    before, after, plan = edited(editor, case.photo, case.prompt)
    changed = CHANGES[case.change]
    (step,) = plan
    assert step["region"] == case.part
    found = str(step.get("found"))
    if case.part in ("background", "people"):
        on_person, on_background = PEOPLE_BOXES[case.photo]
        people = case.part == "people"
        changed_only_in(
            before,
            after,
            changed_boxes=on_person if people else on_background,
            kept_boxes=on_background if people else on_person,
            changed=changed,
        )
        # And how much of the photo it is.
        assert found.startswith("1 person found (" if people else "the background is ")
        assert found.endswith("% of the photo)" if people else "% of the photo")
    elif case.part == "faces":
        faces = faces_of(case.photo)
        for face in faces:
            assert changed(before[inner(face)], after[inner(face)]), f"the face at {face}"
        far = far_from_faces(before.shape, faces)
        assert np.abs(after[far] - before[far]).max() <= 1, "nothing far from a face changed"
        assert found == f"{len(faces)} face{'' if len(faces) == 1 else 's'} found"
    else:
        inside, outside = halves(before.shape, case.part)
        assert changed(before[inside], after[inside]), "the part changed as asked"
        assert np.abs(after[outside] - before[outside]).max() <= 1, "the other side is as it was"


def test_a_step_on_the_faces_of_a_photo_without_faces_is_refused(
    editor: LocalEditingProvider,
) -> None:
    with pytest.raises(EditingError) as refused:
        editor.edit(
            EditRequest(image=png("rocket"), prompt="brighten the faces", enhanced_prompt=None)
        )
    assert (
        refused.value.user_message == "No faces were found in this photo, so nothing was changed."
    )
    assert refused.value.error_class == "refused"


# White balance: a cast put on a real photo in linear light, as a wrong light would. ----------


def _linear(values: np.ndarray) -> np.ndarray:
    v = values / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _encoded(values: np.ndarray) -> np.ndarray:
    v = np.clip(values, 0, 1)
    return 255 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


CASTS = {"yellow": (1.25, 1.1, 0.7), "blue": (0.8, 0.95, 1.35), "green": (0.85, 1.2, 0.85)}
BALANCE_CASES = [
    ("remove the yellow cast", "coffee", "yellow"),
    ("fix the white balance", "chelsea", "yellow"),
    ("remove the blue tint", "astronaut", "blue"),
    ("auto white balance", "rocket", "blue"),
    ("the photo has a green cast, fix the colours", "coffee", "green"),
    ("make the colours natural", "astronaut", "green"),
]


def _cast(name: str, cast: str) -> bytes:
    shifted = _encoded(_linear(pixels(name).astype(np.float64)) * np.array(CASTS[cast]))
    image = pyvips.Image.new_from_array(np.rint(shifted).astype(np.uint8))
    data: bytes = image.copy(interpretation="srgb").pngsave_buffer()
    return data


def _balanced(editor: LocalEditingProvider, image: bytes, prompt: str) -> np.ndarray:
    outcome = editor.edit(EditRequest(image=image, prompt=prompt, enhanced_prompt=None))
    assert [step["operation"] for step in outcome.plan] == ["white_balance"]
    return np.asarray(outcome.image.numpy(), dtype=np.float64)


def _hue(array: np.ndarray) -> np.ndarray:
    """CIELAB a* and b* of each pixel: its colour, without its lightness."""
    from skimage.color import rgb2lab

    ab: np.ndarray = rgb2lab(array[..., :3] / 255)[..., 1:]
    return ab


@pytest.mark.parametrize(("prompt", "photo", "cast"), BALANCE_CASES)
def test_white_balance_gives_the_same_colours_whatever_the_cast(
    editor: LocalEditingProvider, prompt: str, photo: str, cast: str
) -> None:
    """The light's colour is divided out: the photo under a cast and the photo as taken come out
    with nearly the same colours (a step that left the cast, or only stretched the tones, would
    not). Compared in a*b*, since a cast also changes how bright the photo is."""
    original = pixels(photo).astype(np.float64)
    cast_photo = np.asarray(pyvips.Image.new_from_buffer(_cast(photo, cast), "").numpy(), float)
    from_cast = _balanced(editor, _cast(photo, cast), prompt)
    from_original = _balanced(editor, png(photo), prompt)
    cast_size = float(np.abs(_hue(cast_photo) - _hue(original)).mean())
    assert cast_size > 4
    # Leaving the cast gives 1; a fixed cooling or warming (temperature) 0.42-1.11 here.
    assert float(np.abs(_hue(from_cast) - _hue(from_original)).mean()) < 0.35 * cast_size


def test_white_balance_of_a_black_and_white_photo_is_refused(
    editor: LocalEditingProvider,
) -> None:
    grey = pyvips.Image.new_from_array(samples.camera()).copy(interpretation="b-w")
    with pytest.raises(EditingError) as refused:
        editor.edit(
            EditRequest(
                image=grey.pngsave_buffer(), prompt="fix the white balance", enhanced_prompt=None
            )
        )
    assert (
        refused.value.user_message
        == "This photo has no colour, so there is no colour cast to remove."
    )


@pytest.mark.parametrize("photo", ["coffee", "chelsea", "rocket"])
def test_a_step_on_the_people_of_a_photo_without_people_is_refused(
    editor: LocalEditingProvider, photo: str
) -> None:
    """The segmentation alone marks the cup and the cat as people: no face, no person."""
    with pytest.raises(EditingError) as refused:
        editor.edit(
            EditRequest(image=png(photo), prompt="brighten the person", enhanced_prompt=None)
        )
    assert (
        refused.value.user_message == "No people were found in this photo, so nothing was changed."
    )


@pytest.mark.parametrize("photo", ["astronaut", "camera"])
def test_blur_the_background_of_a_photo_of_people_keeps_the_people_sharp(
    editor: LocalEditingProvider, photo: str
) -> None:
    """The subject of a photo of people is the people, as the segmentation finds them."""
    before, after, _ = edited(editor, photo, "blur the background")
    on_person, on_background = PEOPLE_BOXES[photo]
    changed_only_in(
        before,
        after,
        changed_boxes=on_background,
        kept_boxes=on_person,
        changed=lambda b, a: detail(a) < detail(b) * 0.5,
    )
