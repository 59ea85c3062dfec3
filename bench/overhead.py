"""Orchestration overhead per edit: submit → completed minus the provider's time.

The edit's own timestamps say when it was accepted (`created_at`) and finished (`finished_at`);
its stage timings say how long the editor took (`ai_processing`: with `EDIT_PROVIDER=noop` the
decode of the upload and the encode of the result). What is left is queue hand-off, database
writes, storage and the status cache. Edits run one at a time, so nothing queues behind another.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.common import Stack, percentile, photo_1mp, submit, wait_all, when

EDITS = 40
ROUNDS = 3


def one_round(stack: Stack, image: bytes) -> tuple[list[float], list[dict[str, float]]]:
    overheads, stages = [], []
    with stack.client() as client:
        for _ in range(EDITS):
            (status,) = wait_all(client, [submit(client, image)])
            total_ms = (when(status, "finished_at") - when(status, "created_at")) * 1000
            timings = status["stage_timings_ms"]
            overheads.append(total_ms - timings.get("ai_processing", 0.0))
            stages.append(timings)
    return overheads, stages


def measure(stack: Stack) -> dict[str, Any]:
    """p50 and p95 of each round, and the median stage timings of all rounds."""
    image = photo_1mp()
    with stack.client() as client:  # warm-up: first connections, imports, caches
        wait_all(client, [submit(client, image) for _ in range(3)])
    p50, p95, every_stage = [], [], []
    for _ in range(ROUNDS):
        overheads, stages = one_round(stack, image)
        p50.append(statistics.median(overheads))
        p95.append(percentile(overheads, 0.95))
        every_stage += stages
    names = list(every_stage[0])
    return {
        "p50": p50,
        "p95": p95,
        "stages": {
            name: statistics.median(s.get(name, 0.0) for s in every_stage) for name in names
        },
    }
