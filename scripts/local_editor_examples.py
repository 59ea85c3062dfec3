"""Renders the before/after pictures in docs/local-editor.md with the offline editor itself.

Run `python scripts/local_editor_examples.py` after changing an operation; it rewrites
docs/images/local-editor/*.jpg (small side-by-side JPEGs: the photo, then the edit), or only the
pictures named (`python scripts/local_editor_examples.py sky-bluer`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyvips
from skimage import data as samples

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mizual.kit import imaging  # noqa: E402
from mizual.providers.editing.base import EditRequest  # noqa: E402
from mizual.providers.editing.local import LocalEditingProvider  # noqa: E402

OUT = ROOT / "docs" / "images" / "local-editor"
# Photos that are not in scikit-image (china.jpg: scikit-learn's, CC BY 2.0, see its README).
PHOTOS = ROOT / "tests" / "localedit" / "photos"
HEIGHT = 200

# (file name, sample photo, prompt): the same list the doc shows.
EXAMPLES = [
    ("black-and-white", "chelsea", "make it black and white"),
    ("warm-brighter", "coffee", "warm up the light and make it a bit brighter"),
    ("vintage", "rocket", "make it look like an old photo"),
    ("vibrance-contrast", "chelsea", "boost the colours and increase the contrast"),
    ("auto-levels", "dull-coffee", "enhance the lighting"),
    ("vignette", "coffee", "add a strong vignette"),
    ("rotate-crop", "chelsea", "rotate 90 degrees clockwise, then crop to square"),
    ("background-blur", "astronaut", "blur the background"),
    ("background-grey", "astronaut", "make the background black and white"),
    ("background-removed", "astronaut", "remove the background"),
    ("pencil-sketch", "chelsea", "turn it into a pencil sketch"),
    ("cartoon", "coffee", "make it look like a cartoon"),
    ("painting", "chelsea", "make it look like an oil painting"),
    ("pixelate", "astronaut", "pixelate it a lot"),
    ("faces-blurred", "astronaut", "blur the faces"),
    ("faces-pixelated", "camera", "pixelate all faces"),
    ("left-half-grey", "chelsea", "make the left half black and white"),
    ("person-grey", "astronaut", "make the person black and white"),
    ("straightened", "tilted-camera", "straighten the horizon"),
    ("sky-bluer", "china", "make the sky bluer"),
    ("sky-dramatic", "camera", "make the sky more dramatic"),
]


def sample(name: str) -> pyvips.Image:
    if name == "dull-coffee":
        return (sample("coffee").linear(100 / 255, 70)).cast("uchar")
    if name == "tilted-camera":  # turned 6 degrees clockwise, the corners cut off
        turned = sample("camera").rotate(6)
        return turned.crop((turned.width - 420) // 2, (turned.height - 420) // 2, 420, 420)
    if (PHOTOS / f"{name}.jpg").exists():
        return pyvips.Image.new_from_file(str(PHOTOS / f"{name}.jpg"))
    pixels = getattr(samples, name)()
    image = pyvips.Image.new_from_array(pixels)
    if pixels.ndim == 2:  # a grey photo, shown beside its edit in colour
        return image.copy(interpretation="b-w").colourspace("srgb")
    return image.copy(interpretation="srgb")


def on_checkerboard(image: pyvips.Image) -> pyvips.Image:
    """Transparency shown as the usual grey checkerboard."""
    if not image.hasalpha():
        return image
    squares = pyvips.Image.xyz(image.width, image.height) // 12
    board = ((squares[0] + squares[1]) % 2) * 60 + 160
    board = board.bandjoin([board, board]).cast("uchar").copy(interpretation="srgb")
    return board.composite2(image.colourspace("srgb"), "over").flatten()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    editor = LocalEditingProvider()
    wanted = set(sys.argv[1:])
    for filename, photo, prompt in EXAMPLES:
        if wanted and filename not in wanted:
            continue
        before = sample(photo)
        data = before.write_to_buffer(".png")
        outcome = editor.edit(EditRequest(image=data, prompt=prompt, enhanced_prompt=None))
        after = on_checkerboard(imaging.to_display_space(outcome.image))
        if after.bands == 1:
            after = after.colourspace("srgb")
        before_small = before.resize(HEIGHT / before.height)
        after_small = after.resize(HEIGHT / after.height)
        gap = pyvips.Image.black(8, HEIGHT, bands=3) + 255
        pair = before_small.join(gap.cast("uchar"), "horizontal").join(
            after_small.extract_band(0, n=3) if after_small.bands > 3 else after_small,
            "horizontal",
            expand=True,
            background=[255],
        )
        pair.write_to_file(str(OUT / f"{filename}.jpg"), Q=82, keep="none")
        print(f"{filename}.jpg  {prompt}")


if __name__ == "__main__":
    main()
