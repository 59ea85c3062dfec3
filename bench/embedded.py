"""Embedded-mode timings: submit latency, status latency, and per-edit overhead around the editor.

Run with `make bench`. Starts its own `mizual serve` on a free port with a throw-away data folder,
and prints a Markdown section to append to bench/RESULTS.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import MizualServer, data_url, gradient_image, wait_for

RUNS = 40


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def line(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {min(values):.1f} | {statistics.median(values):.1f} | "
        f"{percentile(values, 0.95):.1f} | {max(values):.1f} |"
    )


def main() -> None:
    photo_1mp = gradient_image(1200, 860).write_to_buffer(".jpg", Q=90)
    photo_12mp = gradient_image(4000, 3000).write_to_buffer(".jpg", Q=90)
    with tempfile.TemporaryDirectory() as folder:
        server = MizualServer(Path(folder), env={"LOG_LEVEL": "WARNING"}).start()
        try:
            with server.client() as client:
                submit_ms, status_ms, total_ms = [], [], []
                stages: list[dict[str, float]] = []
                for _ in range(RUNS):
                    body = {"prompt": "flip it", "image": data_url(photo_1mp)}
                    started = time.perf_counter()
                    edit_id = client.post("/edit-image/", json=body).json()["edit_id"]
                    submit_ms.append((time.perf_counter() - started) * 1000)
                    status = wait_for(client, edit_id)
                    created = datetime.fromisoformat(status["created_at"])
                    finished = datetime.fromisoformat(status["finished_at"])
                    total = (finished - created).total_seconds() * 1000
                    total_ms.append(total)
                    stages.append(status["stage_timings_ms"])
                    for _ in range(5):
                        started = time.perf_counter()
                        client.get(f"/edit/{edit_id}")
                        status_ms.append((time.perf_counter() - started) * 1000)
                big_ms = []
                for _ in range(5):
                    body = {"prompt": "make it black and white", "image": data_url(photo_12mp)}
                    started = time.perf_counter()
                    edit_id = client.post("/edit-image/", json=body).json()["edit_id"]
                    wait_for(client, edit_id, timeout=120)
                    big_ms.append((time.perf_counter() - started) * 1000)
        finally:
            server.stop()
    print("| figure (ms) | min | median | p95 | max |\n|---|---|---|---|---|")
    print(line(f"POST /edit-image/, 1 MP JPEG ({RUNS} runs)", submit_ms))
    print(line(f"GET /edit/{{uuid}} ({len(status_ms)} runs, sequential)", status_ms))
    print(line("edit created → finished, 1 MP, 'flip it'", total_ms))
    for stage in stages[0]:
        print(line(f"… stage {stage}", [timings[stage] for timings in stages]))
    print(line("12 MP JPEG 'make it black and white', client submit → completed (5 runs)", big_ms))


if __name__ == "__main__":
    main()
