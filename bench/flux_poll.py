"""The BFL poll schedule: how long a result waits after BFL has finished it, and how many polls
that costs, with a fixed 0.5 s interval and with the adaptive schedule
(`providers/editing/pollschedule.py`). The fake BFL's tasks finish after a random 2 to 8 s
(`random-ready-2-8`); 24 edits run at once, as BFL allows per key. The schedule learns from a
warm-up round first, as a running worker would have.

    python bench/flux_poll.py [--edits 96]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.bfl import create_app  # noqa: E402
from tests.fakes.runner import FakeServer  # noqa: E402
from tests.support import jpeg_bytes  # noqa: E402

from mizual.providers.editing import flux  # noqa: E402
from mizual.providers.editing.base import EditRequest  # noqa: E402

KEY = "random-ready-2-8"
AT_ONCE = 24


def _run(provider: flux.FluxEditingProvider, edits: int) -> list[str]:
    image = jpeg_bytes(64, 48)

    def one(_: int) -> str:
        outcome = provider.edit(EditRequest(image=image, prompt="flip it", enhanced_prompt=None))
        return str(outcome.notes["bfl_task_id"])

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(one, range(edits)))


def measure_schedule(url: str, *, fastest: float, edits: int) -> dict[str, list[float]]:
    """`late`: ms from a task's ready time to the poll that saw it (both on the fake's clock);
    `polls`: polls per task."""
    config = flux.FluxConfig(
        api_key=KEY, api_url=url, poll_interval_seconds=0.5, poll_fastest_seconds=fastest
    )
    provider = flux.FluxEditingProvider(config)
    try:
        _run(provider, AT_ONCE)  # warm-up: the schedule learns as a running worker's has
        measured = _run(provider, edits)
    finally:
        provider.close()
    tasks = httpx.get(f"{url}/_fake/tasks").json()
    return {
        "late": [(tasks[t]["seen_after"] - tasks[t]["ready_after"]) * 1000 for t in measured],
        "polls": [float(tasks[t]["polls"]) for t in measured],
    }


def measure(edits: int = 96) -> dict[str, dict[str, list[float]]]:
    with FakeServer(create_app()).start() as bfl:
        fixed = measure_schedule(bfl.url, fastest=0.5, edits=edits)
        adaptive = measure_schedule(bfl.url, fastest=0.1, edits=edits)
    return {"fixed": fixed, "adaptive": adaptive}


def _line(name: str, values: list[float], unit: str) -> str:
    return (
        f"{name}: mean {statistics.fmean(values):.1f} {unit}, median "
        f"{statistics.median(values):.1f}, min {min(values):.1f}, max {max(values):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=96)
    args = parser.parse_args()
    result = measure(args.edits)
    for name, figures in result.items():
        print(_line(f"{name}: ready → seen", figures["late"], "ms"))
        print(_line(f"{name}: polls per task", figures["polls"], ""))
    saving = statistics.fmean(result["fixed"]["late"]) - statistics.fmean(
        result["adaptive"]["late"]
    )
    print(f"saving: {saving:.0f} ms per edit on average")


if __name__ == "__main__":
    main()
