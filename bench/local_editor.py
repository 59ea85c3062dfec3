"""The offline editor on big photos: time and peak memory of whole plans at 12 MP and 50 MP.

Run with `make bench` (or `python bench/local_editor.py`). Each measurement runs in a fresh child
process, so its peak RSS is the edit's alone (interpreter and libraries included): decode the
JPEG, read the prompt, apply the plan and encode the result exactly as `ai_processing` does.
Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3
SIZES = {"12 MP": (4000, 3000), "50 MP": (8660, 5774)}
PLANS = [
    "make it brighter, increase the contrast, boost the colours, sharpen it and add a vignette",
    "make it black and white",
    "rotate 90 degrees clockwise and crop to 16:9",
    "warm up the light and make it look vintage",
    "blur the background",
    "turn it into a pencil sketch",
    "make the left half black and white",
]
# Plans that look for faces, on a photo with one (scikit-image's astronaut enlarged).
FACE_PLANS = [
    "blur the faces",
    "pixelate all faces",
    "make her face brighter",
    "brighten the person",
]
# Plans that look for the sky, on a photo with one (scikit-image's rocket at dusk).
SKY_PLANS = ["make the sky bluer", "make the sky more dramatic"]
# Plans that look for straight lines, on a photo with a horizon turned 4° (the cameraman).
LINE_PLANS = ["straighten the horizon"]

CHILD = """
import json, resource, sys, time
from mizual.kit import imaging
from mizual.providers.editing.base import EditRequest
from mizual.providers.editing.local import LocalEditingProvider
data = open(sys.argv[1], "rb").read()
started = time.perf_counter()
request = EditRequest(image=data, prompt=sys.argv[2], enhanced_prompt=None)
outcome = LocalEditingProvider().edit(request)
encoded = imaging.encode_result(outcome.image)
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "bytes": len(encoded.data)}))
"""

BASELINE = """
import json, resource
import mizual.providers.editing.local, mizual.kit.imaging
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_photo(
    path: Path, width: int, height: int, *, sample: str = "coffee", turn: float = 0.0
) -> None:
    """A real photograph (scikit-image's coffee, or `sample`, turned `turn` degrees clockwise
    and cut to no corners) enlarged, with grain so it compresses like one; a square sample is
    cut to the size rather than stretched."""
    import pyvips
    from skimage import data as samples

    pixels = getattr(samples, sample)()
    small = pyvips.Image.new_from_array(pixels).copy(interpretation="srgb")
    if small.bands == 1:
        small = small.copy(interpretation="b-w").colourspace("srgb")
    if turn:
        side = round(small.width / 1.15)
        small = small.rotate(turn)
        small = small.crop((small.width - side) // 2, (small.height - side) // 2, side, side)
    if small.width == small.height:
        big = small.resize(width / small.width)
        big = big.crop(0, (big.height - height) // 2, width, height)
    else:
        big = small.resize(width / small.width, vscale=height / small.height)
    # Grain around 0 (libvips' default mean is 128, which washed every photo out to near white).
    grain = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0)
    photo = (big + grain.bandjoin([grain, grain])).cast("uchar").copy(interpretation="srgb")
    photo.write_to_file(str(path), Q=90)


def run_child(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(path: Path, label: str, prompt: str) -> str:
    runs = [run_child(CHILD, str(path), prompt) for _ in range(RUNS)]
    seconds = [run["seconds"] for run in runs]
    peaks = [run["peak_mb"] for run in runs]
    row = (
        f"| {label} | {prompt} | {min(seconds):.2f} | {statistics.median(seconds):.2f}"
        f" | {max(seconds):.2f} | {statistics.median(peaks):.0f} |"
    )
    print(row, file=sys.stderr, flush=True)
    return row


def main() -> None:
    baseline = run_child(BASELINE)["peak_mb"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, (width, height) in SIZES.items():
            path = Path(folder) / f"{width}x{height}.jpg"
            make_photo(path, width, height)
            rows += [measure(path, label, prompt) for prompt in PLANS]
            faces = Path(folder) / f"{width}x{height}-face.jpg"
            make_photo(faces, width, height, sample="astronaut")
            rows += [measure(faces, f"{label}, a face", prompt) for prompt in FACE_PLANS]
            skyward = Path(folder) / f"{width}x{height}-sky.jpg"
            make_photo(skyward, width, height, sample="rocket")
            rows += [measure(skyward, f"{label}, a sky", prompt) for prompt in SKY_PLANS]
            tilted = Path(folder) / f"{width}x{height}-tilted.jpg"
            make_photo(tilted, width, height, sample="camera", turn=4.0)
            rows += [measure(tilted, f"{label}, tilted 4°", prompt) for prompt in LINE_PLANS]
    print("| photo | prompt | min s | median s | max s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nA child process that only imports the editor peaks at {baseline:.0f} MB.")


if __name__ == "__main__":
    main()
