"""The image's build-time smoke test: fails the build when a removal broke something.

    python smoke.py              imports, OpenCV, the offline editor
    python smoke.py --serve      and then `mizual serve` for real: /health, two edits over HTTP

Run as root in the final stage, it also decides what is precompiled: Python writes bytecode
for each module as it is imported, so exactly the modules these runs load get a .pyc (the
running user cannot write there later, and the rest is compiled in memory when used, if ever).

What it covers:
- every module a role imports (`mizual serve`, `api`, `worker`, `migrate`, the CLI);
- each OpenCV function Mizual calls, on an 800x600 image: opencv_stubs.py replaced the
  libraries of OpenCV's video I/O, AVIF and LAPACK with stubs that abort, so a function that
  reached one would end this run;
- the offline editor end to end (prompt -> plan -> pyvips/OpenCV -> JPEG or PNG) for the
  operations that use OpenCV and a few that do not, each result checked to differ from the
  photo;
- with --serve, the embedded server on a free loopback port with a scratch DATA_DIR: an edit
  submitted as base64 JSON, polled until complete, its result downloaded and decoded, then
  SIGTERM and a clean exit.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

started = time.monotonic()


def step(text: str) -> None:
    print(f"smoke [{time.monotonic() - started:5.1f} s] {text}", flush=True)


def imports() -> None:
    import boto3

    import mizual.app
    import mizual.cli
    import mizual.cli.commands
    import mizual.kit.db.migrate
    import mizual.localedit.operations
    import mizual.worker  # noqa: F401

    # What the servers load once they run, not when imported.
    for name in (
        "uvicorn.loops.uvloop",
        "uvicorn.protocols.http.httptools_impl",
        "uvicorn.lifespan.on",
        "uvloop",
        "httptools",
        "celery.bin.celery",  # what `mizual worker` starts Celery with (worker_main)
        "celery.concurrency.prefork",
        "celery.worker.consumer",
        "celery.apps.worker",
        "kombu.transport.redis",
        "psycopg",
        "PIL.Image",
        "PIL.BmpImagePlugin",
    ):
        __import__(name)
    import numpy as np
    import psycopg

    # psycopg's own libpq, on Debian's OpenSSL and Kerberos (system_libs.py).
    assert psycopg.pq.__impl__ == "binary", f"psycopg implementation: {psycopg.pq.__impl__}"
    # NumPy's OpenBLAS (stripped by slim.sh): a product, as colour.py computes one.
    matrix = np.arange(90000.0).reshape(300, 300) / 9e4
    assert np.allclose((matrix @ np.eye(300)), matrix) and np.isclose(np.ones(3) @ np.ones(3), 3)
    boto3.client("s3", region_name="us-east-1")  # its endpoints.json is gzipped
    step(f"imports: {len(sys.modules)} modules")


def photo():
    """An 800x600 RGB photo-like image: a gradient sky, a textured floor, a figure with a head
    in the middle, a few hard-edged shapes, and some noise."""
    import numpy as np

    height, width = 600, 800
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[..., 0] = 90 + 100 * y / height
    image[..., 1] = 140 + 60 * x / width
    image[..., 2] = 230 - 80 * y / height
    floor = y > 420
    image[floor] = (120, 95, 60)
    image[floor, 1] += 20 * np.sin(x[floor] / 7)
    body = (np.abs(x - 400) < 90) & (y > 260) & (y < 600)
    image[body] = (180, 40, 50)
    head = (x - 400) ** 2 + (y - 200) ** 2 < 65**2
    image[head] = (225, 185, 160)
    for dx in (-25, 25):  # eyes and a mouth, so there is something face-like to look at
        image[(x - 400 - dx) ** 2 + (y - 185) ** 2 < 8**2] = (40, 30, 30)
    image[(np.abs(x - 400) < 25) & (np.abs(y - 228) < 4)] = (120, 40, 40)
    image[(x > 60) & (x < 200) & (y > 80) & (y < 180)] = (250, 220, 40)
    image[(x - 650) ** 2 + (y - 120) ** 2 < 50**2] = (30, 90, 200)
    image += np.random.default_rng(0).normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def opencv(pixels) -> None:
    import cv2
    import numpy as np

    def changed(result, original, what: str) -> None:
        assert result.shape[:2] == original.shape[:2], f"{what}: shape {result.shape}"
        assert not np.array_equal(result, original), f"{what}: nothing changed"

    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    assert grey.shape == pixels.shape[:2] and grey.dtype == np.uint8
    changed(cv2.GaussianBlur(pixels, (0, 0), 3.0), pixels, "GaussianBlur")
    blurred = cv2.GaussianBlur(np.float32(grey) * 1.0, (0, 0), 2.0)
    assert blurred.dtype == np.float32
    changed(cv2.bilateralFilter(pixels, 9, 40, 7), pixels, "bilateralFilter")
    changed(cv2.medianBlur(grey, 7), grey, "medianBlur")
    changed(cv2.equalizeHist(grey), grey, "equalizeHist")
    lines = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 5)
    assert set(np.unique(lines)) <= {0, 255}
    painted = cv2.edgePreservingFilter(pixels, flags=cv2.NORMCONV_FILTER, sigma_s=60, sigma_r=0.4)
    changed(painted, pixels, "edgePreservingFilter")
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (grey > 128).astype(np.uint8), connectivity=8
    )
    assert count >= 2 and stats[:, cv2.CC_STAT_AREA].sum() == grey.size, "connectedComponents"
    classifier = cv2.CascadeClassifier(
        cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    )
    assert not classifier.empty(), "the face cascade did not load"
    faces = classifier.detectMultiScale(
        cv2.equalizeHist(grey), scaleFactor=1.1, minNeighbors=6, minSize=(24, 24)
    )
    small = np.ascontiguousarray(cv2.resize(pixels, (384, 288), interpolation=cv2.INTER_AREA))
    seeds = np.full(small.shape[:2], cv2.GC_PR_BGD, np.uint8)
    seeds[80:, 110:274] = cv2.GC_PR_FGD
    seeds[:10, :] = seeds[:, :10] = seeds[:, -10:] = cv2.GC_BGD
    seeds[110:200, 160:224] = cv2.GC_FGD
    cv2.setRNGSeed(0)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(small, seeds, (0, 0, 0, 0), *models, 4, cv2.GC_INIT_WITH_MASK)
    subject = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    assert 0.05 < subject.mean() < 0.8, f"grabCut: subject is {subject.mean():.0%} of the photo"
    # The face model through OpenCV's DNN module (readNetFromTFLite, forward): 35 looks.
    from mizual.localedit.seeing import BlazeFaceSeeing

    seen = BlazeFaceSeeing().faces(pixels)
    # The selfie segmentation through the same DNN module, and the Hough lines of straightening.
    from mizual.localedit.lines import tilt
    from mizual.localedit.people import SelfieSegmenter

    person = SelfieSegmenter().chances(pixels)
    assert person.shape == (256, 256) and 0 <= person.min() <= person.max() <= 1, "segmentation"
    tilt(pixels)
    step(
        f"OpenCV {cv2.__version__}: 16 functions ({len(faces)} faces by the cascade, "
        f"{len(seen)} by BlazeFace; subject {subject.mean():.0%}; "
        f"person {(person > 0.5).mean():.0%} by the segmentation)"
    )


PROMPTS = (
    "blur the background",  # grabCut, Haar cascade, connected components, GaussianBlur
    "make it look like a cartoon",  # bilateralFilter, medianBlur, adaptiveThreshold
    "turn it into an oil painting",  # edgePreservingFilter
    "remove the noise",  # bilateralFilter
    "remove the background",  # the subject mask as alpha: a PNG
    "black and white background",
    "turn it into a pencil sketch",  # pyvips only
    "make it brighter and warmer",
)


def offline_editor(jpeg: bytes) -> None:
    import numpy as np
    import pyvips

    from mizual.kit.imaging import encode_result, load
    from mizual.providers.editing.base import EditRequest
    from mizual.providers.editing.local import LocalEditingProvider

    editor = LocalEditingProvider()
    original = load(jpeg).numpy()
    # BMPs are decoded by Pillow (libxcb a stub, its fonts and AVIF gone: opencv_stubs.py, slim.sh).
    import io

    from PIL import Image

    bmp = io.BytesIO()
    Image.fromarray(original).save(bmp, "BMP")
    decoded = load(bmp.getvalue())
    assert (decoded.width, decoded.height, decoded.bands) == (800, 600, 3), "BMP through Pillow"
    assert np.array_equal(decoded.numpy(), original), "BMP through Pillow: other pixels"
    for prompt in PROMPTS:
        began = time.monotonic()
        outcome = editor.edit(EditRequest(image=jpeg, prompt=prompt, enhanced_prompt=None))
        encoded = encode_result(outcome.image)
        result = pyvips.Image.new_from_buffer(encoded.data, "")
        assert (result.width, result.height) == (800, 600), f"{prompt!r}: {result.width}x{result.height}"
        pixels = result.numpy()
        if result.hasalpha():  # the subject kept, the background transparent
            alpha = pixels[..., -1]
            assert 0.05 < (alpha > 127).mean() < 0.95, f"{prompt!r}: alpha {(alpha > 127).mean():.0%}"
            pixels = np.where(alpha[..., None] > 127, pixels[..., :-1], 0)
        compared = pixels
        if compared.ndim == 2 or compared.shape[-1] == 1:
            compared = np.repeat(compared.reshape(600, 800, 1), 3, axis=2)
        difference = np.abs(compared.astype(np.int16) - original.astype(np.int16)).mean()
        assert difference > 1.0, f"{prompt!r}: the result hardly differs ({difference:.2f})"
        operations = ", ".join(s["operation"] for s in outcome.plan or [])
        step(f"editor: {prompt!r} -> {operations}: {encoded.extension}, "
             f"mean difference {difference:.1f}, {time.monotonic() - began:.2f} s")


def commands() -> None:
    """The CLI's help, as each role's entry point parses it (and imports for it)."""
    mizual = str(Path(sys.executable).with_name("mizual"))
    for args in ([], ["serve"], ["api"], ["worker"], ["migrate"]):
        done = subprocess.run([mizual, *args, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, f"mizual {' '.join(args)} --help: {done.stderr[-500:]}"
    step("mizual --help, serve/api/worker/migrate --help")


def http(method: str, url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def serve(jpeg: bytes) -> None:
    import pyvips

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), DATA_DIR=data,
                   LOG_LEVEL="WARNING", RATE_LIMIT_BURST_SECONDS="0",
                   RATE_LIMIT_STATUS_CHECKS_PER_MINUTE="1000")
        mizual = str(Path(sys.executable).with_name("mizual"))
        server = subprocess.Popen([mizual, "serve"], env=env, cwd=data)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, f"mizual serve exited ({server.returncode})"
                try:
                    if http("GET", f"{base}/health")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "no 200 from /health within 60 s"
                time.sleep(0.2)
            step("mizual serve: /health 200")
            image = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
            for prompt in ("blur the background", "make it look like a cartoon"):
                status, body = http("POST", f"{base}/edit-image/", {"prompt": prompt, "image": image})
                assert status in (200, 201, 202), f"POST /edit-image/: {status} {body[:300]!r}"
                polling = json.loads(body)["polling_url"]
                deadline = time.monotonic() + 120
                while True:
                    status, body = http("GET", base + polling)
                    view = json.loads(body)
                    if view.get("is_complete"):
                        break
                    assert time.monotonic() < deadline, f"{prompt!r}: not complete in 120 s"
                    time.sleep(0.3)
                assert not view["is_error"], f"{prompt!r}: {view['message']}"
                url = view["edited_image_url"]
                status, result = http("GET", url if "://" in url else base + url)
                assert status == 200, f"GET {url}: {status}"
                decoded = pyvips.Image.new_from_buffer(result, "")
                step(f"mizual serve: {prompt!r} completed, {len(result)} bytes, "
                     f"{decoded.width}x{decoded.height}")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                raise AssertionError("mizual serve did not stop within 30 s of SIGTERM") from None
    assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM), f"mizual serve exited {code}"
    step(f"mizual serve: stopped on SIGTERM (exit {code})")


def main() -> None:
    import pyvips

    imports()
    pixels = photo()
    opencv(pixels)
    jpeg = pyvips.Image.new_from_array(pixels).copy(interpretation="srgb").write_to_buffer(
        ".jpg", Q=90
    )
    offline_editor(jpeg)
    commands()
    if "--serve" in sys.argv[1:]:
        serve(jpeg)
    step("passed")


if __name__ == "__main__":
    main()
