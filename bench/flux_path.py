"""The FLUX path as users pay it: submit → completed through `EDIT_PROVIDER=flux` against the
fake BFL of tests/fakes with zero delay (`slow-ready-0`: Ready at the first poll), distributed
mode, 1 MP JPEG, one edit at a time; minus the fake's own time for the same three calls (submit,
poll, download) made straight from here. What is left is Mizual's: input encoding, the queue,
database writes, the BFL client, decode and re-encode, the S3 calls. The re-encode and the S3
calls are also timed alone, so that what remains (the queue, the writes, the BFL client) shows.

    python bench/flux_path.py [--edits 30]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Distributed,
    ensure_services,
    percentile,
    photo_1mp,
    started,
    submit,
    wait_all,
    when,
)
from tests.fakes.bfl import create_app  # noqa: E402
from tests.fakes.runner import FakeServer  # noqa: E402
from tests.support import S3Server  # noqa: E402

from mizual.kit import imaging  # noqa: E402
from mizual.runtime import build_storage  # noqa: E402
from mizual.settings import load_settings  # noqa: E402

INSTANT = "slow-ready-0"


def fake_alone(url: str, image: bytes, runs: int) -> tuple[list[float], bytes]:
    """Milliseconds of submit + one poll + the download, asked of the fake directly; and the
    result it delivers."""
    body = {"prompt": "flip it", "input_image": base64.b64encode(image).decode()}
    took = []
    result = b""
    with httpx.Client(timeout=30, headers={"x-key": INSTANT}) as client:
        for _ in range(runs):
            started = time.perf_counter()
            task = client.post(f"{url}/v1/flux-kontext-pro", json=body).json()
            sample = client.get(task["polling_url"]).json()["result"]["sample"]
            result = client.get(sample).raise_for_status().content
            took.append((time.perf_counter() - started) * 1000)
    return took, result


def reencode_alone(result: bytes, runs: int) -> list[float]:
    """Milliseconds of the worker's decode + re-encode of that result (a progressive JPEG at
    quality 85, as every result by default), done here: the part of the path no queue, database
    or network can shorten."""
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        imaging.encode_result(imaging.load(result, sequential=True))
        took.append((time.perf_counter() - started) * 1000)
    return took


def storage_alone(s3: S3Server, *, original: bytes, result: bytes, runs: int) -> list[float]:
    """Milliseconds of the worker's S3 calls for one edit (the original read, the result
    written, its URL signed) made here through the same client against the same S3 server:
    time that is the storage's (moto on loopback here, the network to S3 in production)."""
    bucket = f"bench-alone-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(bucket)
    # The worker's own client, built as the worker builds it from the same variables.
    variables = {name.lower(): value for name, value in s3.env(bucket).items()}
    storage = build_storage(load_settings(**variables))
    took = []
    try:
        storage.put("originals/alone.jpg", original, content_type="image/jpeg")
        for run in range(runs):
            started = time.perf_counter()
            storage.get("originals/alone.jpg")
            storage.put(f"results/alone-{run}.jpg", result, content_type="image/jpeg")
            storage.url(f"results/alone-{run}.jpg")
            took.append((time.perf_counter() - started) * 1000)
    finally:
        storage.close()
    return took


def measure(edits: int = 30) -> dict[str, Any]:
    """Per edit: submit → completed (`totals`) and that minus the fake's own p50 (`beyond`), in
    ms; `fake` the fake's own times; `reencode` the result's decode + re-encode alone; `storage`
    the S3 calls of an edit alone; `stages` each edit's stage timings."""
    ensure_services()
    image = photo_1mp()
    env = {
        "EDIT_PROVIDER": "flux",
        "BFL_API_KEY": INSTANT,
        "ENABLE_PROMPT_ENHANCEMENT": "false",
    }
    with FakeServer(create_app()).start() as bfl, tempfile.TemporaryDirectory() as temporary:
        s3 = S3Server(Path(temporary)).start()
        try:
            fake, result = fake_alone(bfl.url, image, edits)
            reencode = reencode_alone(result, edits)
            encoded = imaging.encode_result(imaging.load(result, sequential=True)).data
            storage = storage_alone(s3, original=image, result=encoded, runs=edits)
            stack = Distributed(Path(temporary), s3, {**env, "BFL_API_URL": bfl.url})
            with started(stack):
                stack.workers(1, 1)
                totals, stages = [], []
                with stack.client() as client:
                    wait_all(client, [submit(client, image) for _ in range(3)])  # warm-up
                    for _ in range(edits):
                        (status,) = wait_all(client, [submit(client, image)])
                        finished = when(status, "finished_at") - when(status, "created_at")
                        totals.append(finished * 1000)
                        stages.append(status["stage_timings_ms"])
        finally:
            s3.stop()
    fake_p50 = statistics.median(fake)
    return {
        "totals": totals,
        "fake": fake,
        "reencode": reencode,
        "storage": storage,
        "beyond": [total - fake_p50 for total in totals],
        "stages": stages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    result = measure(args.edits)
    totals, beyond, stages = result["totals"], result["beyond"], result["stages"]
    fake_p50 = statistics.median(result["fake"])
    print(f"fake BFL alone (submit + poll + download): p50 {fake_p50:.1f} ms")
    print(f"the result's re-encode alone: p50 {statistics.median(result['reencode']):.1f} ms")
    print(f"the S3 calls of an edit alone: p50 {statistics.median(result['storage']):.1f} ms")
    print(
        f"submit → completed: p50 {statistics.median(totals):.1f} ms, "
        f"p95 {percentile(totals, 0.95):.1f} ms"
    )
    print(
        f"beyond the fake's own time: p50 {statistics.median(beyond):.1f} ms, "
        f"p95 {percentile(beyond, 0.95):.1f} ms, min {min(beyond):.1f}, max {max(beyond):.1f}"
    )
    for name in stages[0]:
        print(f"  {name}: {statistics.median(s.get(name, 0.0) for s in stages):.1f} ms (median)")


if __name__ == "__main__":
    main()
