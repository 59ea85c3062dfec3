"""A fake Black Forest Labs API (FLUX.1 Kontext): submit, poll, download.

Protocol as BFL serves it: `POST /v1/<model>` with an `x-key` header and a JSON body (prompt,
base64 `input_image`, …) answers `{"id", "polling_url"}`; `GET /v1/get_result?id=` answers
`{"id", "status", "result", "progress", "details"}` with status Pending, Ready, Error, Request
Moderated, Content Moderated or Task not found; a Ready result's `sample` is a signed delivery
URL that expires. The fake's "edit" turns the input black and white, made once per distinct input
(a real BFL does that work on its own machines: the fake's should not take the cores of the
machine that runs the tests and the benchmarks once more for every download of the same input).

`GET /_fake/submissions` counts the submissions (`POST /v1/<model>`, every one that arrived,
whatever it was answered) by prompt: `{"total": n, "by_prompt": {prompt: count}}`; a test reads
it to see that no edit started two paid tasks. `GET /_fake/tasks` gives each task's key, the
seconds after submission at which it became ready (`ready_after`, null for keys without one), at
which a poll first saw it Ready (`seen_after`, null until then) and how many polls it was asked.
`POST /_fake/reset` empties both.

The API key picks the scenario:
    anything else            Pending, Pending, then Ready
    invalid-key (or none)    403 on every call
    no-credits               402 on submit
    rate-limited-once        429 (Retry-After: 1) on the first submit, then normal
    rate-limited-always      429 (Retry-After: 1) on every submit
    server-error-once        500 on the first submit, then normal
    poll-rate-limited-once   429 on the first poll, then normal
    request-moderated        the task ends "Request Moderated"
    content-moderated        the task ends "Content Moderated"
    task-error               the task ends "Error"
    task-lost                the task is "Task not found"
    slow                     Pending for ever
    slow-ready-<seconds>     Pending until <seconds> after the submission, then Ready (for
                             edits that stay in flight a while, e.g. slow-ready-12)
    random-ready-<lo>-<hi>   each task Pending until a time drawn uniformly from <lo> to <hi>
                             seconds after its submission, then Ready (random-ready-2-8)
    expired-result           Ready, but the delivery URL answers 403 (expired signature)
    missing-result           Ready, but the delivery URL answers 404
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import threading
import time
import uuid
from collections import Counter, OrderedDict
from typing import Any

import pyvips
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.runner import Recorder, add_control_routes, main

MODELS = {"flux-kontext-pro", "flux-kontext-max"}
PENDING_POLLS = 2
FINAL_STATUSES = {
    "request-moderated": (
        "Request Moderated",
        {"Moderation Reasons": ["Derivative Works Filter"]},
    ),
    "content-moderated": ("Content Moderated", {"Moderation Reasons": ["NSFW"]}),
    "task-error": ("Error", {"error": "internal error while generating"}),
    "task-lost": ("Task not found", None),
}
NOT_AUTHENTICATED = {"detail": "Not authenticated - Invalid Authentication"}


SLOW_READY = "slow-ready-"
RANDOM_READY = "random-ready-"


def _ready_after(key: str) -> float | None:
    """The seconds a new task of this key stays Pending (`slow-ready-<s>`, or a draw for
    `random-ready-<lo>-<hi>`); None for other keys."""
    try:
        if key.startswith(SLOW_READY):
            return max(0.0, float(key.removeprefix(SLOW_READY)))
        if key.startswith(RANDOM_READY):
            low, high = (float(part) for part in key.removeprefix(RANDOM_READY).split("-"))
            return random.uniform(max(0.0, low), max(low, high))
    except ValueError:
        return None
    return None


class _Task:
    def __init__(self, *, key: str, prompt: str, image: bytes) -> None:
        self.key = key
        self.prompt = prompt
        self.image = image
        self.polls = 0
        self.started = time.time()
        self.ready_after = _ready_after(key)
        self.seen_after: float | None = None


def create_app() -> FastAPI:
    app = FastAPI(title="fake BFL API")
    recorder = Recorder()
    lock = threading.Lock()
    tasks: dict[str, _Task] = {}
    submits: Counter[str] = Counter()
    polls: Counter[str] = Counter()
    by_prompt: Counter[str] = Counter()
    deliveries = _Deliveries()

    def reset() -> None:
        with lock:
            tasks.clear()
            submits.clear()
            polls.clear()
            by_prompt.clear()
        deliveries.clear()

    add_control_routes(app, recorder, on_reset=reset)

    @app.get("/_fake/submissions")
    def submissions() -> dict[str, Any]:
        with lock:
            return {"total": sum(by_prompt.values()), "by_prompt": dict(by_prompt)}

    @app.get("/_fake/tasks")
    def task_list() -> dict[str, Any]:
        with lock:
            return {
                task_id: {
                    "key": task.key,
                    "ready_after": task.ready_after,
                    "seen_after": task.seen_after,
                    "polls": task.polls,
                }
                for task_id, task in tasks.items()
            }

    @app.post("/v1/{model}")
    async def submit(model: str, request: Request) -> Response:
        entry = await recorder.record(request)
        key = request.headers.get("x-key", "")
        sent = entry["json"] if isinstance(entry["json"], dict) else {}
        with lock:
            by_prompt[str(sent.get("prompt"))] += 1
        if key in ("", "invalid-key"):
            return JSONResponse(NOT_AUTHENTICATED, status_code=403)
        if model not in MODELS:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        with lock:
            submits[key] += 1
            count = submits[key]
        if key == "no-credits":
            return JSONResponse(
                {"detail": "Insufficient credits. Please add credits to your account."},
                status_code=402,
            )
        if key == "rate-limited-always" or (key == "rate-limited-once" and count == 1):
            return JSONResponse(
                {"detail": "You have exceeded the number of active tasks (24)."},
                status_code=429,
                headers={"retry-after": "1"},
            )
        if key == "server-error-once" and count == 1:
            return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
        body = entry["json"] if isinstance(entry["json"], dict) else {}
        problems = _validate(body)
        if problems:
            return JSONResponse({"detail": problems}, status_code=422)
        task_id = str(uuid.uuid4())
        image = base64.b64decode(body["input_image"])
        with lock:
            tasks[task_id] = _Task(key=key, prompt=body["prompt"], image=image)
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "id": task_id,
                "polling_url": f"{base}/v1/get_result?id={task_id}",
                "cost": 4.0 if model == "flux-kontext-pro" else 8.0,
            }
        )

    @app.get("/v1/get_result")
    async def get_result(request: Request, id: str = "") -> Response:
        await recorder.record(request)
        key = request.headers.get("x-key", "")
        if key in ("", "invalid-key"):
            return JSONResponse(NOT_AUTHENTICATED, status_code=403)
        with lock:
            polls[key] += 1
            first_poll = polls[key] == 1
            task = tasks.get(id)
            if task is not None:
                task.polls += 1
        if key == "poll-rate-limited-once" and first_poll:
            return JSONResponse(
                {"detail": "Too many requests"}, status_code=429, headers={"retry-after": "1"}
            )
        if task is None or task.key != key:
            return JSONResponse(_result(id, "Task not found"))
        final = FINAL_STATUSES.get(task.key)
        if final is not None:
            status, details = final
            return JSONResponse(_result(id, status, details=details))
        ready_after = task.ready_after
        if ready_after is not None:
            waited = time.time() - task.started
            if waited < ready_after:
                progress = min(0.9, waited / ready_after) if ready_after else 0.0
                return JSONResponse(_result(id, "Pending", progress=progress))
        elif task.key == "slow" or task.polls <= PENDING_POLLS:
            progress = min(0.9, 0.3 * task.polls)
            return JSONResponse(_result(id, "Pending", progress=progress))
        if task.seen_after is None:
            task.seen_after = time.time() - task.started
        base = str(request.base_url).rstrip("/")
        expires = int(time.time()) + 600
        sample = f"{base}/delivery/{id}.jpg?se={expires}&sig={uuid.uuid4().hex}"
        return JSONResponse(
            _result(
                id,
                "Ready",
                result={
                    "sample": sample,
                    "prompt": task.prompt,
                    "seed": 42,
                    "start_time": task.started,
                    "end_time": time.time(),
                    "duration": time.time() - task.started,
                },
                progress=1.0,
            )
        )

    @app.get("/delivery/{name}")
    async def delivery(name: str, request: Request) -> Response:
        await recorder.record(request)
        task = tasks.get(name.removesuffix(".jpg"))
        if task is None or task.key == "missing-result":
            return Response(_storage_error("BlobNotFound"), 404, media_type="application/xml")
        if task.key == "expired-result" or "sig" not in request.query_params:
            return Response(
                _storage_error("AuthenticationFailed"), 403, media_type="application/xml"
            )
        return Response(deliveries.of(task.image), media_type="image/jpeg")

    return app


def _validate(body: dict[str, Any]) -> list[dict[str, Any]]:
    """FastAPI-shaped 422 details, as BFL answers a malformed request."""
    problems: list[dict[str, Any]] = []
    if not isinstance(body.get("prompt"), str):
        problems.append({"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"})
    image = body.get("input_image")
    try:
        ok = isinstance(image, str) and bool(base64.b64decode(image, validate=True))
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        problems.append(
            {"loc": ["body", "input_image"], "msg": "Invalid base64 image", "type": "value_error"}
        )
    tolerance = body.get("safety_tolerance", 2)
    if not isinstance(tolerance, int) or not 0 <= tolerance <= 6:
        problems.append(
            {
                "loc": ["body", "safety_tolerance"],
                "msg": "Input should be less than or equal to 6",
                "type": "less_than_equal",
            }
        )
    if body.get("output_format", "jpeg") not in ("jpeg", "png"):
        problems.append(
            {"loc": ["body", "output_format"], "msg": "Input should be 'jpeg' or 'png'"}
        )
    return problems


def _result(
    task_id: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    progress: float | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": task_id,
        "status": status,
        "result": result,
        "progress": progress,
        "details": details,
    }


class _Deliveries:
    """The black-and-white result of each of the last few distinct inputs."""

    KEPT = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_digest: OrderedDict[bytes, bytes] = OrderedDict()

    def of(self, image: bytes) -> bytes:
        digest = hashlib.sha256(image).digest()
        with self._lock:
            made = self._by_digest.get(digest)
            if made is not None:
                self._by_digest.move_to_end(digest)
                return made
        made = _black_and_white(image)
        with self._lock:
            self._by_digest[digest] = made
            while len(self._by_digest) > self.KEPT:
                self._by_digest.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._by_digest.clear()


def _black_and_white(image: bytes) -> bytes:
    grey = pyvips.Image.new_from_buffer(image, "", access="sequential").colourspace("b-w")
    data: bytes = grey.colourspace("srgb").write_to_buffer(".jpg", Q=90)
    return data


def _storage_error(code: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>'
        + code
        + "</Code><Message>Server failed to authenticate the request.</Message></Error>"
    ).encode()


if __name__ == "__main__":
    main(create_app, "BFL")
