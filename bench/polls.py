"""Status polls alone: `bench/pollers.py` against embedded, distributed and the ceiling app, in one
run, as `make bench` measures them (100 pollers, 10 s, edits still moving through their stages).

    python bench/polls.py [--rounds 3] [--modes embedded,distributed,settled,ceiling]

Prints one JSON line per mode: req/s, p50 and p99 per round, and the stale reads. `settled` is
not in `make bench`: the distributed API polled on edits that have all finished, so that the
workers, PostgreSQL and the S3 server do not share the cores with it while it answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import ceiling, throughput  # noqa: E402
from bench.common import Distributed, Embedded, ensure_services, started  # noqa: E402
from tests.support import S3Server  # noqa: E402

POLL_ENV = {"NOOP_EDIT_DELAY_SECONDS": "0.1"}  # edits still progressing while polled


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rps": [round(run["rps"]) for run in runs],
        "p50_ms": [round(run["p50_ms"], 1) for run in runs],
        "p99_ms": [round(run["p99_ms"], 1) for run in runs],
        "stale": sum(run["stale"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=throughput.ROUNDS)
    parser.add_argument("--modes", default="embedded,distributed,ceiling")
    args = parser.parse_args()
    throughput.ROUNDS = args.rounds
    modes = args.modes.split(",")
    ensure_services()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if "embedded" in modes:
            with started(Embedded(folder, 2, POLL_ENV)) as stack:
                print(json.dumps({"embedded": summary(throughput.pollers(stack))}), flush=True)
        for mode, measure in (
            ("distributed", throughput.pollers),
            ("settled", throughput.settled_pollers),
        ):
            if mode not in modes:
                continue
            s3 = S3Server(folder).start()
            try:
                with started(Distributed(folder, s3)) as stack:
                    assert isinstance(stack, Distributed)
                    stack.workers(1, 2, POLL_ENV)
                    print(json.dumps({mode: summary(measure(stack))}), flush=True)
            finally:
                s3.stop()
        if "ceiling" in modes:
            print(json.dumps({"ceiling": summary(ceiling.measure())}), flush=True)


if __name__ == "__main__":
    main()
