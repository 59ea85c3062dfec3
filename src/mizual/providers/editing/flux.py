"""`EDIT_PROVIDER=flux`: Black Forest Labs' FLUX.1 Kontext API.

Submit the prompt and image to `/v1/<model>`, follow the returned `polling_url` until the task
is Ready, then download the signed result URL at once (it expires within minutes). The task is
recorded on the edit before it is polled, so an attempt that resumes the edit after a worker
died follows the same task: one paid task per edit, unless BFL has already forgotten it. HTTP 429,
5xx and network errors are retried here, a bounded number of times and honouring Retry-After;
that is separate from the pipeline's stage retries (none for ai_processing by default, because
a second task costs credits and time). Every other outcome ends the edit with a message a
person can act on, and the operator gets the detail in the log.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mizual.kit import imaging
from mizual.providers.editing.base import EditingError, EditOutcome, EditRequest
from mizual.providers.editing.pollschedule import PollSchedule

logger = logging.getLogger(__name__)

# BFL accepts these as input; anything else (or anything huge) is sent as a JPEG preview.
_SENDABLE_FORMATS = {"jpeg", "png", "webp"}
_MAX_INPUT_BYTES = 10 * 1024**2
_INPUT_MAX_SIDE = 2048
_MAX_RESULT_BYTES = 50 * 1024**2

BUSY = "The editing service is busy right now. Please try again in a few minutes."
UNAVAILABLE = "The editing service is not available right now. Please try again later."
TROUBLED = "The editing service is having problems right now. Please try again in a few minutes."
REQUEST_MODERATED = (
    "The editing service's content filter declined this request. Please rephrase the prompt "
    "or use a different image."
)
CONTENT_MODERATED = (
    "The editing service's content filter withheld the edited image. Please try a different prompt."
)
TASK_FAILED = "The editing service could not make this edit. Please try again or rephrase it."
TASK_LOST = "The editing service lost track of this edit. Please submit it again."
RESULT_GONE = (
    "The edited image expired at the editing service before it could be saved. Please submit "
    "the edit again."
)
REFUSED_INPUT = (
    "The editing service did not accept this image or prompt. Please try another image or a "
    "shorter prompt."
)


@dataclass(frozen=True)
class FluxConfig:
    api_key: str
    api_url: str = "https://api.bfl.ai"
    model: str = "flux-kontext-pro"
    safety_tolerance: int = 2
    poll_interval_seconds: float = 0.5
    poll_fastest_seconds: float = 0.1
    timeout_seconds: float = 300.0
    request_retries: int = 3
    max_concurrent_tasks: int = 24


class FluxEditingProvider:
    name = "flux"

    def __init__(
        self,
        config: FluxConfig,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(30.0, connect=10.0),
            limits=httpx.Limits(max_connections=config.max_concurrent_tasks + 8),
            headers={"accept": "application/json"},
        )
        self.sleep = sleep
        # BFL allows a number of active tasks per key; beyond it, it answers 429.
        self._slots = threading.BoundedSemaphore(config.max_concurrent_tasks)
        self.schedule = PollSchedule(
            fastest_seconds=config.poll_fastest_seconds,
            slowest_seconds=config.poll_interval_seconds,
        )

    # The edit -----------------------------------------------------------------------------------

    def edit(self, request: EditRequest) -> EditOutcome:
        deadline = time.monotonic() + self.config.timeout_seconds
        if not self._slots.acquire(timeout=self.config.timeout_seconds):
            raise self._timed_out("waiting for a free task slot")
        data: bytes | None = None
        sample_url = ""
        try:
            resumed = self._resume(request, deadline) if request.task else None
            if resumed is not None:
                task_id, data = resumed
            else:
                task_id, polling_url = self._submit(request, deadline)
                # Recorded as the wait begins: should this worker die once it is written, the
                # next attempt follows this task instead of paying for a second one.
                request.record_task({"provider": self.name, "id": task_id, "url": polling_url})
                sample_url = self._wait_until_ready(
                    request, task_id, polling_url, deadline, submitted=time.monotonic()
                )
        finally:
            self._slots.release()
        if data is None:
            request.stop_if_cancelled()
            data = self._download(sample_url, deadline)
        try:
            # In strips: the result is read once, by its re-encode (about 1-2 ms less at 1 MP).
            image = imaging.load(data, sequential=True)
        except Exception as exc:
            raise EditingError(
                TASK_FAILED, retryable=False, detail=f"BFL result is not an image: {exc}"
            ) from exc
        return EditOutcome(image=image, notes={"bfl_task_id": task_id})

    def _resume(self, request: EditRequest, deadline: float) -> tuple[str, bytes] | None:
        """The result of a task an earlier attempt submitted, or None when BFL can no longer
        give it (the task or its result expired: only then is the edit submitted again)."""
        task = request.task or {}
        task_id, polling_url = task.get("id"), task.get("url")
        if task.get("provider") != self.name or not isinstance(task_id, str):
            return None
        if not isinstance(polling_url, str):
            return None
        logger.info("BFL task %s: following it again (submitted by an earlier attempt)", task_id)
        try:
            sample_url = self._wait_until_ready(request, task_id, polling_url, deadline)
            return task_id, self._download(sample_url, deadline)
        except EditingError as exc:
            if exc.user_message not in (TASK_LOST, RESULT_GONE):
                raise
            logger.warning(
                "BFL task %s can no longer be fetched (%s); submitting again", task_id, exc
            )
            return None

    def _submit(self, request: EditRequest, deadline: float) -> tuple[str, str]:
        body = {
            "prompt": request.enhanced_prompt or request.prompt,
            "input_image": base64.b64encode(_sendable(request.image)).decode(),
            "safety_tolerance": self.config.safety_tolerance,
            "output_format": "jpeg",
        }
        url = f"{self.config.api_url}/v1/{self.config.model}"
        response = self._call("POST", url, deadline=deadline, json=body)
        if response.status_code != 200:
            raise self._refused(response, during="submit")
        payload = _json(response)
        task_id, polling_url = payload.get("id"), payload.get("polling_url")
        if not isinstance(task_id, str) or not isinstance(polling_url, str):
            raise EditingError(
                TROUBLED,
                retryable=True,
                detail=f"BFL submit answered without a task: {payload}",
                error_class="server_error",
            )
        logger.info("BFL task %s submitted (%s)", task_id, self.config.model)
        return task_id, polling_url

    def _wait_until_ready(
        self,
        request: EditRequest,
        task_id: str,
        polling_url: str,
        deadline: float,
        *,
        submitted: float | None = None,
    ) -> str:
        """The result URL once the task is Ready. `submitted` (when this attempt submitted the
        task) lets the poll schedule learn how long tasks take; a resumed task teaches nothing."""
        started = time.monotonic() if submitted is None else submitted
        delay: float | None = None
        while True:
            # Asked before every poll: once the edit is cancelled, BFL hears no more of it.
            request.stop_if_cancelled()
            response = self._call("GET", polling_url, deadline=deadline)
            if response.status_code != 200:
                raise self._refused(response, during="poll")
            payload = _json(response)
            status = payload.get("status")
            if status == "Ready":
                sample = (payload.get("result") or {}).get("sample")
                if not isinstance(sample, str):
                    raise EditingError(
                        TASK_FAILED,
                        retryable=False,
                        detail=f"BFL Ready without a sample: {payload}",
                    )
                if submitted is not None:
                    self.schedule.learn(seen_after=time.monotonic() - started, last_delay=delay)
                return sample
            outcome = _FINAL_STATUSES.get(str(status))
            if outcome is not None:
                message, detail = outcome
                raise EditingError(
                    message,
                    retryable=False,
                    detail=f"BFL task {task_id}: {detail} ({payload.get('details')})",
                    error_class="moderated" if "moderated" in detail else "other",
                )
            # Pending (or a state BFL may add, such as Queued): keep polling.
            delay = self.schedule.next_delay(elapsed=time.monotonic() - started, previous=delay)
            if time.monotonic() + delay > deadline:
                raise self._timed_out(f"task {task_id} still {status}")
            self.sleep(delay)

    def _download(self, url: str, deadline: float) -> bytes:
        response = self._call("GET", url, deadline=deadline, authenticated=False)
        if response.status_code in (401, 403, 404, 410):
            raise EditingError(
                RESULT_GONE,
                retryable=False,
                detail=f"BFL result download answered {response.status_code}",
            )
        if response.status_code != 200:
            raise self._refused(response, during="download")
        if len(response.content) > _MAX_RESULT_BYTES:
            raise EditingError(
                TASK_FAILED, retryable=False, detail=f"BFL result of {len(response.content)} bytes"
            )
        return response.content

    # HTTP with bounded retries -----------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        *,
        deadline: float,
        json: dict[str, Any] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One request; 429, 5xx and network errors are tried again (up to BFL_REQUEST_RETRIES
        times, never past the deadline). Returns the last response otherwise."""
        headers = {"x-key": self.config.api_key} if authenticated else {}
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(f"{method} {_redact(url)}")
            try:
                response = self.http.request(
                    method, url, json=json, headers=headers, timeout=min(30.0, remaining)
                )
            except httpx.TransportError as exc:
                # A POST that may have reached BFL is not sent twice: it could start two tasks.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (method == "POST" and sent) or attempt >= self.config.request_retries:
                    raise EditingError(
                        UNAVAILABLE if not sent else TROUBLED,
                        retryable=True,
                        detail=f"BFL {method} {_redact(url)} failed: {exc!r}",
                        error_class="network",
                    ) from exc
                delay = _backoff(attempt)
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                if response.status_code == 429 and method == "GET" and authenticated:
                    self.schedule.throttled()
                if attempt >= self.config.request_retries:
                    return response
                delay = _retry_after(response) or _backoff(attempt)
                logger.warning(
                    "BFL %s answered %d; retry %d/%d in %.1fs",
                    method,
                    response.status_code,
                    attempt + 1,
                    self.config.request_retries,
                    delay,
                )
            if time.monotonic() + delay > deadline:
                raise self._timed_out(f"{method} {_redact(url)} kept failing")
            attempt += 1
            self.sleep(delay)

    def _refused(self, response: httpx.Response, *, during: str) -> EditingError:
        code = response.status_code
        detail = f"BFL {during} answered {code}: {response.text[:300]}"
        if code == 402:
            # The user can do nothing about it; the operator must, so it is loud.
            logger.critical("BFL is out of credits for this API key (402); every edit will fail")
            return EditingError(UNAVAILABLE, retryable=False, detail=detail, error_class="credits")
        if code in (401, 403):
            logger.critical("BFL rejected the API key (%d); check BFL_API_KEY", code)
            return EditingError(UNAVAILABLE, retryable=False, detail=detail, error_class="auth")
        if code == 429:
            return EditingError(BUSY, retryable=True, detail=detail, error_class="rate_limited")
        if code >= 500:
            return EditingError(TROUBLED, retryable=True, detail=detail, error_class="server_error")
        return EditingError(REFUSED_INPUT, retryable=False, detail=detail, error_class="refused")

    def _timed_out(self, what: str) -> EditingError:
        seconds = round(self.config.timeout_seconds)
        return EditingError(
            f"The editing service did not finish this edit within {seconds} seconds, so it was "
            "stopped. Please try again.",
            retryable=False,
            detail=f"BFL timeout after {seconds}s: {what}",
            error_class="timeout",
        )

    def check(self) -> str:
        """One cheap authenticated call (the result of a task that does not exist)."""
        response = self.http.get(
            f"{self.config.api_url}/v1/get_result",
            params={"id": "00000000-0000-0000-0000-000000000000"},
            headers={"x-key": self.config.api_key},
        )
        if response.status_code in (401, 403):
            raise RuntimeError(f"the API key was rejected ({response.status_code})")
        if response.status_code >= 400:
            raise RuntimeError(f"answered {response.status_code}: {response.text[:200]}")
        return f"{self.config.api_url} accepts the key (model {self.config.model})"

    def close(self) -> None:
        self.http.close()


_FINAL_STATUSES = {
    "Request Moderated": (REQUEST_MODERATED, "request moderated"),
    "Content Moderated": (CONTENT_MODERATED, "content moderated"),
    "Error": (TASK_FAILED, "task error"),
    "Task not found": (TASK_LOST, "task not found"),
}


def _sendable(image: bytes) -> bytes:
    if imaging.detect_format(image) in _SENDABLE_FORMATS and len(image) <= _MAX_INPUT_BYTES:
        return image
    return imaging.jpeg_preview(image, max_side=_INPUT_MAX_SIDE, quality=90)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise EditingError(
            TROUBLED,
            retryable=True,
            detail=f"BFL answered non-JSON: {response.text[:200]}",
            error_class="server_error",
        )
    return payload


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers.get("retry-after", "")), 60.0)
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 8.0))


def _redact(url: str) -> str:
    """Signed URLs carry credentials in the query; logs get the path only."""
    return url.split("?", 1)[0]
