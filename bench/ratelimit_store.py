"""One rate-limit count in memory: `limits`' `MemoryStorage` against `kit/memorywindow.py`'s
`SweptMemoryStorage`, on one key with a short pause between counts, idle and beside a thread that
keeps the GIL busy (as embedded mode's edit workers do while the loop answers polls), and with a
window that already holds a minute of 10,000 requests a second (a high limit, or many clients
behind one address: `limits` moved the whole window at every count).

    python bench/ratelimit_store.py [--seconds 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import threading
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mizual.kit.memorywindow import SweptMemoryStorage

PAUSE_SECONDS = 0.0002  # between counts: a steady stream, not a tight loop
FULL_WINDOW = 600_000  # requests already in the window in the "full window" case


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


def _measure(storage: MemoryStorage, *, seconds: float, already: int = 0) -> dict[str, float]:
    limiter = MovingWindowRateLimiter(storage)
    rule = parse("100000000/minute")
    if already:  # in one count, each store keeping them in its own order
        storage.acquire_entry(
            rule.key_for("bench", "client"), rule.amount, rule.get_expiry(), amount=already
        )
    took: list[float] = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        limiter.hit(rule, "bench", "client")
        took.append(time.perf_counter() - started)
        time.sleep(PAUSE_SECONDS)
    took.sort()
    return {
        "p50_us": took[len(took) // 2] * 1e6,
        "p99_us": took[int(len(took) * 0.99)] * 1e6,
        "max_us": took[-1] * 1e6,
        "hits": len(took),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("| case | store | p50 µs | p99 µs | max µs | counts |")
    print("|---|---|---|---|---|---|")
    for case in ("idle", "busy thread", "full window"):
        for store in (MemoryStorage, SweptMemoryStorage):
            rows = []
            for _ in range(args.rounds):
                stop = threading.Event()
                spinner = threading.Thread(target=_spin, args=(stop,), daemon=True)
                if case == "busy thread":
                    spinner.start()
                try:
                    already = FULL_WINDOW if case == "full window" else 0
                    rows.append(_measure(store(), seconds=args.seconds, already=already))
                finally:
                    stop.set()
                    if spinner.is_alive():
                        spinner.join()

            def spread(key: str, rows: list[dict[str, float]] = rows) -> str:
                values = [row[key] for row in rows]
                low, high = min(values), max(values)
                if round(low) == round(high):
                    return f"{low:,.0f}"
                return f"{low:,.0f}\u2013{high:,.0f}"

            print(
                f"| {case} | `{store.__name__}` | {spread('p50_us')} | {spread('p99_us')} "
                f"| {spread('max_us')} | {spread('hits')} |"
            )


if __name__ == "__main__":
    main()
