"""Image normalisation, pyvips against Pillow at its best, side by side in one run.

Time: a 24 MP JPEG (grainy photo, q90) → at most 1024 px, JPEG q85. pyvips is the project's own
`imaging.jpeg_preview` (shrink-on-load, baseline JPEG) and the same steps writing a progressive
JPEG; Pillow opens with `draft` (the JPEG decoder's DCT scaling) and `thumbnail`, and saves a
progressive JPEG. Each child process does one warm-up and five timed conversions.
Memory: a 50 MP PNG → 1024 px, one conversion per fresh child process, peak RSS (VmHWM; not
ru_maxrss, which a child inherits from its parent across fork and exec),
also given above the peak of a child that only imports the libraries and reads the file.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.local_editor import make_photo

CHILDREN = 3

COMMON = """
import io, json, sys, time
data = open(sys.argv[1], "rb").read()
"""
CODE = {
    "pyvips jpeg_preview": """
from mizual.kit import imaging
def convert():
    return imaging.jpeg_preview(data, max_side=1024)
""",
    "pyvips progressive": """
import pyvips
from mizual.kit import imaging
def convert():
    image = pyvips.Image.thumbnail_buffer(data, 1024, height=1024, size="down")
    image = imaging.to_display_space(image)
    return image.write_to_buffer(".jpg", Q=85, strip=True, interlace=True)
""",
    "Pillow draft progressive": """
from PIL import Image
def convert():
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (1024, 1024))
    image = image.convert("RGB")
    image.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, progressive=True, optimize=True)
    return out.getvalue()
""",
    "import only": """
import pyvips
from PIL import Image
from mizual.kit import imaging
def convert():
    return b""
""",
}
TIMED = """
convert()
seconds = []
for _ in range(5):
    started = time.perf_counter()
    convert()
    seconds.append(time.perf_counter() - started)
print(json.dumps({"seconds": seconds}))
"""
ONCE = """
convert()
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(json.dumps({"peak_mb": int(status.split()[0]) / 1024}))
"""


def child(kind: str, path: Path, tail: str) -> dict[str, Any]:
    code = COMMON + CODE[kind] + tail
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def make_png(path: Path, width: int, height: int) -> None:
    import pyvips
    from skimage import data as samples

    small = pyvips.Image.new_from_array(samples.coffee()).copy(interpretation="srgb")
    big = small.resize(width / small.width, vscale=height / small.height)
    big.cast("uchar").copy(interpretation="srgb").write_to_file(str(path), compression=1)


def measure(folder: Path) -> dict[str, Any]:
    jpeg, png = folder / "24mp.jpg", folder / "50mp.png"
    make_photo(jpeg, 6000, 4000)
    make_png(png, 8660, 5774)
    times: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}
    kinds = ["pyvips jpeg_preview", "pyvips progressive", "Pillow draft progressive"]
    for _ in range(CHILDREN):  # interleaved, so drift in the machine hits every kind alike
        for kind in kinds:
            times.setdefault(kind, []).append(
                statistics.median(child(kind, jpeg, TIMED)["seconds"]) * 1000
            )
        for kind in [*kinds, "import only"]:
            peaks.setdefault(kind, []).append(child(kind, png, ONCE)["peak_mb"])
    return {
        "times_ms": times,
        "peaks_mb": peaks,
        "jpeg_mb": jpeg.stat().st_size / 1e6,
        "png_mb": png.stat().st_size / 1e6,
    }
