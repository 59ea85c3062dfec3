"""A newcomer's first `make serve`: a fresh clone of this repository, `make serve`, and the
seconds until `GET /health` answers 200 (the install included), then the RSS of the serving
process once it has made a few 1 MP edits.

    python bench/first_start.py [--runs 3] [--commit REV]

Each run clones the committed HEAD (or REV) into a new folder, so nothing of this checkout's
`.venv` is reused; pip's own cache is, as on a machine that has installed Python packages
before ("warm cache"). `--no-cache` sets PIP_NO_CACHE_DIR for a cold-cache run.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import photo_1mp  # noqa: E402

HEALTH_WITHIN_SECONDS = 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def serving_pid(make_pid: int) -> int:
    """The `mizual serve` process that make started (in make's process group)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            group = os.getpgid(int(entry.name))
        except OSError:
            continue
        if group == make_pid and any(part.endswith(b"mizual") for part in cmdline[:2]):
            return int(entry.name)
    raise RuntimeError("no mizual serve process under make")


def one_run(folder: Path, *, commit: str, cold: bool) -> tuple[float, float]:
    """(seconds to healthy, RSS MB after 5 edits of 1 MP)."""
    clone = folder / "mizual"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_DAILY_IMAGES": "1000",
        "RATE_LIMIT_BURST_SECONDS": "0",
    }
    if cold:
        env["PIP_NO_CACHE_DIR"] = "1"
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "serve"],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if make.poll() is not None:
                raise RuntimeError(f"make serve exited with {make.returncode}")
            if time.monotonic() - started > HEALTH_WITHIN_SECONDS:
                raise RuntimeError("not healthy in time")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        healthy = time.monotonic() - started
        image = base64.b64encode(photo_1mp()).decode()
        with httpx.Client(base_url=url, timeout=60) as client:
            for _ in range(5):
                answer = client.post(
                    "/edit-image/", json={"prompt": "make it black and white", "image": image}
                )
                answer.raise_for_status()
                edit = answer.json()["edit_id"]
                while not client.get(f"/edit/{edit}").json()["is_complete"]:
                    time.sleep(0.2)
        return healthy, rss_mb(serving_pid(make.pid))
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=60)


def measure(
    *, runs: int, commit: str = "HEAD", cold: bool = False
) -> tuple[list[float], list[float]]:
    """Seconds to healthy and RSS (MB) after 5 edits, one of each per run."""
    times, memory = [], []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as temporary:
            healthy, rss = one_run(Path(temporary), commit=commit, cold=cold)
        times.append(healthy)
        memory.append(rss)
        print(f"run {run + 1}: healthy after {healthy:.1f} s, RSS after 5 edits {rss:.0f} MB")
    return times, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--no-cache", action="store_true", help="a cold pip cache")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    times, memory = measure(runs=args.runs, commit=commit, cold=args.no_cache)
    print(
        f"{commit}: healthy min/median/max {min(times):.1f} / {statistics.median(times):.1f} / "
        f"{max(times):.1f} s; RSS {min(memory):.0f} / {statistics.median(memory):.0f} / "
        f"{max(memory):.0f} MB"
    )


if __name__ == "__main__":
    main()
