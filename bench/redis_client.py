"""The status poll's Redis call alone: redis-py's asyncio client against the pipelined
connection of `kit/leanredis.py`, the same EVALSHA (`kit/limitedread.py`'s script over a 1 KB
entry), 100 callers at once as 100 pollers make it, CPU per call and calls per second.

    python bench/redis_client.py [--calls 20000] [--rounds 3] [--url redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_services  # noqa: E402

from mizual.kit.leanredis import PipelinedRedis  # noqa: E402
from mizual.kit.limitedread import _HIT_AND_GET  # noqa: E402

URL = "redis://127.0.0.1:6379/9"
AT_ONCE = 100


async def _rate(call: Callable[[], Awaitable[Any]], calls: int) -> tuple[float, float]:
    """Calls a second, and µs of this process's CPU a call."""

    async def caller() -> None:
        for _ in range(calls // AT_ONCE):
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(AT_ONCE)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return calls / wall, cpu / calls * 1e6


async def measure(calls: int, rounds: int, url: str = URL) -> dict[str, list[tuple[float, float]]]:
    pool = redis.asyncio.Redis.from_url(url)
    pipelined = PipelinedRedis(url)
    sha = await pool.script_load(_HIT_AND_GET)
    await pool.set("bench:entry", b"x" * 1000)
    keys = ("bench:window", "bench:entry")

    async def via_pool() -> Any:
        return await pool.evalsha(sha, 2, *keys, time.time(), 10**9, 60)

    async def via_pipelined() -> Any:
        return await pipelined.call("EVALSHA", sha, 2, *keys, time.time(), 10**9, 60)

    results: dict[str, list[tuple[float, float]]] = {"redis-py": [], "pipelined": []}
    try:
        for _ in range(rounds):
            results["redis-py"].append(await _rate(via_pool, calls))
            results["pipelined"].append(await _rate(via_pipelined, calls))
    finally:
        await pool.delete(*keys)
        await pool.aclose()
        await pipelined.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()
    ensure_services()
    for name, runs in asyncio.run(measure(args.calls, args.rounds, args.url)).items():
        rates, costs = [rate for rate, _ in runs], [cost for _, cost in runs]
        print(
            f"{name}: {statistics.median(rates):,.0f} calls/s (min {min(rates):,.0f}, max "
            f"{max(rates):,.0f}); {statistics.median(costs):.1f} µs CPU a call (min "
            f"{min(costs):.1f}, max {max(costs):.1f})"
        )


if __name__ == "__main__":
    main()
