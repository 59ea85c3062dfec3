"""Peak RSS (VmHWM) of the API process and of the process that runs a 50 MP edit.

The offline editor (`EDIT_PROVIDER=local`) makes a 50 MP JPEG black and white. Embedded: one
process does both, so each run is a fresh `mizual serve`. Distributed: one `mizual api`, and a
fresh `mizual worker` (one pool process) per run; the API's peak is read once after 1 MP edits,
once after 80 more of them sent 16 at a time (each checked in a thread of its own), and once after
it has accepted the 50 MP uploads (it decodes every upload to check it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import (
    Distributed,
    Embedded,
    photo_1mp,
    started,
    submit,
    submit_many,
    vm_hwm_mb,
    wait_all,
)
from bench.local_editor import make_photo

RUNS = 3
PROMPT = "make it black and white"
CONCURRENT_UPLOADS, AT_ONCE = 80, 16
LOCAL = {"EDIT_PROVIDER": "local", "MAX_UPLOAD_BYTES": "100000000"}


def photo_50mp(folder: Path) -> bytes:
    path = folder / "50mp.jpg"
    if not path.exists():
        make_photo(path, 8660, 5774)
    return path.read_bytes()


def embedded(folder: Path) -> dict[str, Any]:
    big, small = photo_50mp(folder), photo_1mp()
    after_small, after_big = [], []
    for _ in range(RUNS):
        with started(Embedded(folder, 1, LOCAL)) as stack, stack.client() as client:
            wait_all(client, [submit(client, small, PROMPT) for _ in range(5)])
            after_small.append(vm_hwm_mb(stack.api_pid()))
            wait_all(client, [submit(client, big, PROMPT)], timeout=180)
            after_big.append(vm_hwm_mb(stack.api_pid()))
    return {"api_1mp": after_small, "process_50mp": after_big, "photo_mb": len(big) / 1e6}


def distributed(folder: Path, s3: Any) -> dict[str, Any]:
    big, small = photo_50mp(folder), photo_1mp()
    api_small, api_concurrent, api_big, worker_main, worker_pool = [], [], [], [], []
    with started(Distributed(folder, s3, LOCAL)) as stack, stack.client() as client:
        assert isinstance(stack, Distributed)
        for run in range(RUNS):
            stack.workers(1, 1)
            if run == 0:
                wait_all(client, [submit(client, small, PROMPT) for _ in range(5)])
                api_small.append(vm_hwm_mb(stack.api_pid()))
                ids = submit_many(stack.url, small, CONCURRENT_UPLOADS, threads=AT_ONCE)
                wait_all(client, ids, timeout=180)
                api_concurrent.append(vm_hwm_mb(stack.api_pid()))
            wait_all(client, [submit(client, big, PROMPT)], timeout=180)
            api_big.append(vm_hwm_mb(stack.api_pid()))
            main, *pool = stack.worker_pids()
            worker_main.append(vm_hwm_mb(main))
            worker_pool.append(max(vm_hwm_mb(pid) for pid in pool))
    return {
        "api_1mp": api_small,
        "api_1mp_concurrent": api_concurrent,
        "api_50mp": api_big,
        "worker_main": worker_main,
        "worker_pool_50mp": worker_pool,
    }
