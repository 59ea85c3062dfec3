"""The API's extra memory and time for one 12 MB photo: multipart/form-data vs base64 JSON.

One `mizual serve` (noop editor, one worker thread). A first edit holds that thread for the
whole run (NOOP_EDIT_DELAY_SECONDS), so every measured submission is only queued: what is
measured is the API's own work (read the body, decode, check the image, store the original),
not the edit's. Before each request the process's peak RSS is reset (`/proc/<pid>/clear_refs`,
5) and its RSS read; after the answer, the peak (VmHWM) is read: extra = peak - RSS before.
Both bodies are built before the clock starts, so the client's encoding is not timed.

Two settings: "fresh", the first 12 MB upload of a new process (after one small upload of the
same kind), which shows what the request needs; and "warm", one process taking the two kinds in
turn, where the memory a former request freed is still resident and reused (so the extra peak
is only what goes beyond it).

    .venv/bin/python bench/upload_memory.py [--runs 7] [--fresh-runs 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pyvips  # noqa: E402
from bench.common import NOOP, UNLIMITED, commit, machine  # noqa: E402
from tests.support import MizualServer, jpeg_bytes  # noqa: E402

BOUNDARY = "bench-upload-boundary"
PROMPT = "make it black and white"


def photo_12mb() -> bytes:
    """A 4000x3000 JPEG of gradient and noise at quality 95: about 12 MB, as a phone's photo
    of a busy scene at high quality (noise defeats the compression)."""
    xyz = pyvips.Image.xyz(4000, 3000)
    base = (xyz[0] * (255 / 3999)).bandjoin([xyz[1] * (255 / 2999), xyz[0] * 0 + 90])
    noise = pyvips.Image.gaussnoise(4000, 3000, sigma=34, mean=0)
    image = (base + noise.bandjoin([noise, noise])).cast("uchar").copy(interpretation="srgb")
    data: bytes = image.write_to_buffer(".jpg", Q=95)
    return data


def json_body(photo: bytes) -> bytes:
    image = "data:image/jpeg;base64," + base64.b64encode(photo).decode()
    return json.dumps({"prompt": PROMPT, "image": image}).encode()


def form_body(photo: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n{PROMPT}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
            'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + photo
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def measure(client: httpx.Client, pid: int, body: bytes, content_type: str) -> tuple[float, float]:
    """(extra peak MB, seconds) of one submission."""
    time.sleep(0.3)  # let the last request's buffers go back to the system
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_kb(pid, "VmRSS")
    started = time.perf_counter()
    response = client.post("/edit-image/", content=body, headers={"Content-Type": content_type})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return (status_kb(pid, "VmHWM") - before) / 1024, elapsed


def started_server(folder: Path) -> MizualServer:
    env = {**NOOP, **UNLIMITED, "MAX_WORKERS": "1", "NOOP_EDIT_DELAY_SECONDS": "600"}
    server = MizualServer(folder, env).start(timeout=60)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        # Holds the one worker thread: the measured edits only queue.
        hold = {"prompt": PROMPT, "image": base64.b64encode(jpeg_bytes(64, 48)).decode()}
        client.post("/edit-image/", json=hold).raise_for_status()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--fresh-runs", type=int, default=3)
    args = parser.parse_args()
    photo = photo_12mb()
    small = jpeg_bytes(320, 240)
    bodies = {
        "multipart/form-data": (form_body(photo), f"multipart/form-data; boundary={BOUNDARY}"),
        "JSON, base64": (json_body(photo), "application/json"),
    }
    small_bodies = {
        "multipart/form-data": form_body(small),
        "JSON, base64": json_body(small),
    }
    warm: dict[str, list[tuple[float, float]]] = {name: [] for name in bodies}
    fresh: dict[str, list[tuple[float, float]]] = {name: [] for name in bodies}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        # Warm: one process, the kinds alternating, after one 12 MB upload of each.
        server = started_server(folder / "warm")
        try:
            assert server.process is not None
            pid = server.process.pid
            with httpx.Client(base_url=server.url, timeout=120) as client:
                for body, content_type in bodies.values():  # warm-up, not counted
                    measure(client, pid, body, content_type)
                for _ in range(args.runs):
                    for name, (body, content_type) in bodies.items():
                        warm[name].append(measure(client, pid, body, content_type))
        finally:
            server.stop()
        # Fresh: the first 12 MB upload of a process that has taken only a small one of the
        # kind (its memory not yet grown by a large one).
        for run in range(args.fresh_runs):
            for name, (body, content_type) in bodies.items():
                server = started_server(folder / f"fresh-{run}-{len(fresh[name])}-{name[:4]}")
                try:
                    assert server.process is not None
                    pid = server.process.pid
                    with httpx.Client(base_url=server.url, timeout=120) as client:
                        measure(client, pid, small_bodies[name], content_type)
                        fresh[name].append(measure(client, pid, body, content_type))
                finally:
                    server.stop()
    print(f"machine: {machine()}")
    print(f"commit: {commit()}")
    print(f"photo: 4000x3000 JPEG, {len(photo) / 1e6:.1f} MB")
    print(
        "| body | process | runs | bytes sent | extra peak RSS, MB (min / median / max) "
        "| time, ms (min / median / max) |"
    )
    print("|---|---|---|---|---|---|")
    for label, results in (("fresh", fresh), ("warm", warm)):
        for name, runs in results.items():
            memory = sorted(run[0] for run in runs)
            millis = sorted(run[1] * 1000 for run in runs)
            print(
                f"| {name} | {label} | {len(runs)} | {len(bodies[name][0]) / 1e6:.1f} MB | "
                f"{memory[0]:.0f} / {statistics.median(memory):.0f} / {memory[-1]:.0f} | "
                f"{millis[0]:.0f} / {statistics.median(millis):.0f} / {millis[-1]:.0f} |"
            )


if __name__ == "__main__":
    main()
