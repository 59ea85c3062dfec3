"""Load generator: N pollers GET /edit/{uuid} over keep-alive connections for a while.

Usage: pollers.py URL POLLERS SECONDS IDS.json [WARMUP_SECONDS]. Poller i cycles through the
edits ids[i::POLLERS]. The first WARMUP_SECONDS (default 3) are not in the figures: the API's
thread pool, and what its threads set up on first use, are reported apart (warmup_*).
A stale read is an answer whose `processing_stage` is earlier than one this poller has already
seen for that edit. Prints one JSON object: requests, errors, req/s, p50/p99 ms, stale reads,
and how many answers were of unfinished edits.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from mizual.edits.stages import COMPLETED_STAGE, FAILED_STAGE, PENDING_STAGE, PIPELINE

# Every value `processing_stage` takes, in the order an edit goes through them.
ORDER = {
    name: n
    for n, name in enumerate(
        [PENDING_STAGE, *(str(stage) for stage in PIPELINE), COMPLETED_STAGE, FAILED_STAGE]
    )
}
STAGE = re.compile(rb'"processing_stage":"([a-z_]+)"')
LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.stale = 0
        self.in_progress = 0

    def summary(self, seconds: float) -> dict[str, float]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "requests": len(self.latencies),
            "rps": len(self.latencies) / seconds,
            "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "errors": self.errors,
            "stale": self.stale,
            "in_progress": self.in_progress,
        }


async def poller(
    host: str, port: int, ids: list[str], measure_from: float, deadline: float, tallies: list[Tally]
) -> None:
    warmup, measured = tallies
    reader, writer = await asyncio.open_connection(host, port)
    seen: dict[str, int] = {}
    requests = [f"GET /edit/{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for i in ids]
    try:
        while True:
            for edit_id, request in zip(ids, requests, strict=True):
                now = time.perf_counter()
                if now > deadline:
                    return
                tally = measured if now >= measure_from else warmup
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = LENGTH.search(head)
                assert length, head
                body = await reader.readexactly(int(length.group(1)))
                tally.latencies.append(time.perf_counter() - now)
                if head[9:12] != b"200":
                    tally.errors += 1
                    continue
                match = STAGE.search(body)
                assert match, body[:200]
                stage = ORDER[match.group(1).decode()]
                if stage < seen.get(edit_id, -1):
                    tally.stale += 1
                seen[edit_id] = max(stage, seen.get(edit_id, -1))
                if stage < ORDER["completed"]:
                    tally.in_progress += 1
    finally:
        writer.close()


async def main() -> None:
    url, count, seconds, ids_path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    warmup_seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    edit_ids = json.loads(Path(ids_path).read_text())
    tallies = [Tally(), Tally()]
    measure_from = time.perf_counter() + warmup_seconds
    deadline = measure_from + seconds
    await asyncio.gather(
        *(
            poller(host, port, edit_ids[i::count], measure_from, deadline, tallies)
            for i in range(count)
        )
    )
    result = tallies[1].summary(seconds)
    warm = tallies[0].summary(warmup_seconds)
    result.update({f"warmup_{key}": warm[key] for key in ("requests", "p99_ms", "stale")})
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
