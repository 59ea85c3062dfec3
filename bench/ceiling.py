"""What the status-polling figures are up against: the same load on a one-route FastAPI app.

The app answers `GET /edit/{uuid}` with a fixed status body of the size Mizual sends, from an
`async` route, under the uvicorn Mizual runs (same HTTP parser and event loop), with no
middleware, no rate limit and no cache. `bench/pollers.py` then polls it exactly as it polls
Mizual. What Mizual's figures lose against these is the cost of Mizual's own request handling;
what these lose against the goal is the framework's, on this machine.

`python bench/ceiling.py serve PORT` serves the app alone.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

# The shape and size of a status answer for an edit in progress.
BODY = json.dumps(
    {
        "edit_id": str(uuid.uuid4()),
        "status": "completed",
        "processing_stage": "completed",
        "progress": 100,
        "is_complete": True,
        "is_error": False,
        "prompt": "make it black and white",
        "enhanced_prompt": "make it black and white",
        "original_image_url": "http://127.0.0.1:10000/images/originals/x.jpg",
        "edited_image_url": "http://127.0.0.1:10000/images/results/x.jpg",
        "created_at": "2026-11-29T11:52:00.000000+00:00",
        "finished_at": "2026-11-29T11:52:00.020000+00:00",
        "stage_timings_ms": {"initialization": 0.2, "ai_processing": 16.3},
    },
    separators=(",", ":"),
).encode()


def serve(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/edit/{edit_uuid}")
    async def status(edit_uuid: str) -> Response:  # noqa: ARG001 (the path names it)
        return Response(BODY, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def measure() -> list[dict[str, Any]]:
    """ROUNDS runs of POLLERS pollers for POLL_SECONDS each, as `throughput.pollers`."""
    from bench.common import ROOT
    from bench.throughput import ROUNDS, run_pollers
    from tests.support import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "serve", str(port)], cwd=ROOT)
    try:
        _wait_for_port(port)
        edit_ids = [str(uuid.uuid4()) for _ in range(300)]
        return [run_pollers(f"http://127.0.0.1:{port}", edit_ids) for _ in range(ROUNDS)]
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    serve(int(sys.argv[2]))
