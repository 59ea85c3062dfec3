"""Sustained edits per second, and GET /edit/{uuid} under 100 concurrent pollers.

Edits per second: a batch of edits submitted by 4 client threads as fast as the API accepts
them; the rate is the batch size over the span from the first `created_at` to the last
`finished_at`, so it includes the API's own work of accepting uploads on the same 2 cores.

Pollers: bench/pollers.py in a separate process (raw asyncio HTTP/1.1 keep-alive, no client
library in the way), polling edits that are still moving through their stages, after 3 s of
warm-up that are reported apart (a fresh API process answers its first burst much more slowly;
see RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, Stack, photo_1mp, submit_many, wait_all, when

BATCH = 60
ROUNDS = 3
POLLERS = 100
POLL_SECONDS = 10.0
POLL_EDITS = 300  # in flight while the pollers run (the worker takes 0.1 s per edit)


def edits_per_second(stack: Stack) -> list[float]:
    image = photo_1mp()
    rates = []
    with stack.client() as client:
        wait_all(client, submit_many(stack.url, image, 4))  # warm-up; workers are up
        for _ in range(ROUNDS):
            statuses = wait_all(client, submit_many(stack.url, image, BATCH))
            first = min(when(status, "created_at") for status in statuses)
            last = max(when(status, "finished_at") for status in statuses)
            rates.append(BATCH / (last - first))
    return rates


def pollers(stack: Stack) -> list[dict[str, Any]]:
    """ROUNDS runs of POLLERS pollers for POLL_SECONDS each, on fresh edits still in progress."""
    image = photo_1mp()
    results = []
    for _ in range(ROUNDS):
        edit_ids = submit_many(stack.url, image, POLL_EDITS)
        results.append(run_pollers(stack.url, edit_ids))
        with stack.client() as client:  # let the batch finish before the next round
            wait_all(client, edit_ids, timeout=300)
    return results


def settled_pollers(stack: Stack) -> list[dict[str, Any]]:
    """As `pollers`, on edits that have all finished: the API and its store alone, without the
    workers, the database and the storage busy with edits on the same cores."""
    image = photo_1mp()
    results = []
    for _ in range(ROUNDS):
        edit_ids = submit_many(stack.url, image, POLL_EDITS)
        with stack.client() as client:
            wait_all(client, edit_ids, timeout=300)
        results.append(run_pollers(stack.url, edit_ids))
    return results


def run_pollers(url: str, edit_ids: list[str]) -> dict[str, Any]:
    """One run of bench/pollers.py (POLLERS pollers, POLL_SECONDS) in a process of its own."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as ids:
        json.dump(edit_ids, ids)
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "pollers.py"),
                url,
                str(POLLERS),
                str(POLL_SECONDS),
                ids.name,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(ids.name).unlink()
    result: dict[str, Any] = json.loads(done.stdout)
    return result
