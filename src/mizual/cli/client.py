"""A client of a running Mizual server, behind `mizual edit`, `mizual status` and `mizual chain`.

Every failure a person can meet (a missing file, a refused request, a failed edit, a server that
does not answer) becomes a `ClientError` whose message is one line; the CLI prints it and exits
with status 1.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

DEFAULT_SERVER = "http://127.0.0.1:10000"
POLL_SECONDS = 1.0
# A 429 is waited out as long as its Retry-After says, up to this much in all for one command:
# the burst window (seconds) and the status checks' minute pass; a daily limit's hours do not.
MAX_RATE_LIMIT_WAIT_SECONDS = 300.0
# When a 429 says nothing of when to try again (a proxy's, say).
DEFAULT_RETRY_AFTER_SECONDS = 5.0
# The server sends a heartbeat every 15 s; a stream silent for this long has been lost.
STREAM_READ_TIMEOUT_SECONDS = 60.0
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
}


class ClientError(Exception):
    """Something the person must be told, in one line."""


class InvalidServer(ClientError):
    """The server's address cannot be used; the message says what to write instead."""


class _StreamUnavailable(Exception):
    """The event stream cannot be used (an older server, a proxy, a 429): poll instead."""


@dataclass(frozen=True)
class Submission:
    edit_id: str
    # The submitter's secret for cancelling the edit; None from a server older than cancels.
    edit_token: str | None


@dataclass
class Event:
    kind: str
    id: str | None
    data: dict[str, Any]


def read_photo(path: Path) -> bytes:
    if not path.exists():
        raise ClientError(f"{path}: no such file")
    if path.is_dir():
        raise ClientError(f"{path}: is a folder, not a photo")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClientError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise ClientError(f"{path}: the file is empty")
    return data


_HOST = re.compile(r"[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.%A-Za-z]+\]")


def server_url(value: str) -> str:
    """The URL requests go to, from what a person may write: `127.0.0.1:10000`,
    `localhost:10000`, `http://…` or `https://…`, with a trailing slash or without."""
    text = value.strip()
    candidate = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(candidate)
        _ = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError:
        parts = None
    host = parts.netloc.rpartition("@")[2] if parts else ""
    host = re.sub(r":\d*$", "", host)
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not _HOST.fullmatch(host)
        or parts.query
        or parts.fragment
    ):
        raise InvalidServer(
            f"{value!r} is not an address Mizual can use; write HOST:PORT, http://HOST:PORT or "
            "https://HOST[:PORT], e.g. 127.0.0.1:10000"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def result_extension(content_type: str | None, url: str) -> str:
    """`.jpg`, `.png`, … as the result's content type (or else its URL) says."""
    extension = EXTENSIONS.get((content_type or "").split(";")[0].strip().lower())
    if extension is None:
        suffix = Path(url.split("?", 1)[0]).suffix.lower()
        extension = suffix if suffix in EXTENSIONS.values() or suffix == ".jpeg" else ".jpg"
    return extension


def default_output(photo: Path | None, *, edit_id: str, content_type: str | None, url: str) -> Path:
    """`photo.jpg` → `photo.edited.jpg` (or `.png`, …, as the result's type says); without a
    photo (a chain step), `<edit id>.jpg` in the current folder."""
    extension = result_extension(content_type, url)
    if photo is None:
        return Path(f"{edit_id}{extension}")
    return photo.with_name(f"{photo.stem}.edited{extension}")


def retry_after_seconds(response: httpx.Response) -> float:
    """Retry-After as seconds: a number, or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def say_waiting(seconds: float) -> None:
    # sys.stderr looked up now: a live progress bar replaces it to print above the bar.
    sys.stderr.write(f"mizual: rate limited, retrying in {math.ceil(seconds)} s\n")
    sys.stderr.flush()


def parse_events(lines: Iterator[str]) -> Iterator[Event]:
    """Server-sent events from the lines of a `text/event-stream` (comments are skipped)."""
    kind, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield Event(kind, event_id, json.loads("\n".join(data)))
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


class MizualClient:
    """Requests to one server. A 429 is waited out (as its Retry-After says, `on_wait` told
    first) while the waits of this client add up to at most `max_wait_seconds`; beyond that,
    or with `wait_when_limited` false, it is a ClientError with the server's message."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        *,
        timeout: float = 30.0,
        wait_when_limited: bool = True,
        max_wait_seconds: float = MAX_RATE_LIMIT_WAIT_SECONDS,
        on_wait: Callable[[float], None] = say_waiting,
    ) -> None:
        self.server = server.rstrip("/")
        self._http = httpx.Client(base_url=self.server, timeout=timeout)
        self._wait_when_limited = wait_when_limited
        self._max_wait_seconds = max_wait_seconds
        self._on_wait = on_wait
        self._waited = 0.0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MizualClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Requests -------------------------------------------------------------------------------

    def submit(
        self,
        image: bytes | None,
        prompt: str,
        *,
        parent: str | None = None,
        filename: str = "photo",
        output_format: str | None = None,
    ) -> Submission:
        """Without an image, the parent's result is edited (a chain's next step). Sent as a
        multipart/form-data form: the photo's bytes as they are, not a third larger in base64."""
        fields: list[tuple[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]] = [
            ("prompt", (None, prompt))
        ]
        if image is not None:
            fields.append(("image", (filename, image, "application/octet-stream")))
        if parent is not None:
            fields.append(("parent_edit_uuid", (None, parent)))
        if output_format is not None:
            fields.append(("output_format", (None, output_format)))
        # httpx writes a form of text fields only as urlencoded unless they are given as files.
        answer = self._json("POST", "/edit-image/", files=fields)
        token = answer.get("edit_token")
        return Submission(str(answer["edit_id"]), token if isinstance(token, str) else None)

    def status(self, edit_id: str) -> dict[str, Any]:
        return self._json("GET", f"/edit/{edit_id}")

    def cancel(self, edit_id: str, *, token: str) -> dict[str, Any]:
        """The cancelled edit's status; a refusal (finished already, wrong token) is a
        ClientError with the server's detail."""
        headers = {"Authorization": f"Bearer {token}"}
        return self._json("POST", f"/edit/{edit_id}/cancel", headers=headers)

    def chain(self, edit_id: str) -> dict[str, Any]:
        return self._json("GET", f"/chain/{edit_id}")

    def download(self, url: str) -> tuple[bytes, str | None]:
        """The result's bytes and content type (the URL may be the server's or a bucket's)."""
        response = self._send("GET", urljoin(self.server + "/", url))
        return response.content, response.headers.get("content-type")

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._send(method, path, **kwargs).json()
        return body

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        while True:
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                raise ClientError(self._unreachable(exc)) from None
            if response.status_code == 429:
                self._wait_out(response)
                continue
            if response.status_code >= 400:
                raise ClientError(refusal(response))
            return response

    def _wait_out(self, response: httpx.Response) -> None:
        """Sleep as long as the 429 asks, or fail with its message when that is not allowed."""
        seconds = retry_after_seconds(response)
        if not self._wait_when_limited or self._waited + seconds > self._max_wait_seconds:
            raise ClientError(refusal(response))
        self._waited += seconds
        self._on_wait(seconds)
        time.sleep(seconds)

    def _unreachable(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.ConnectError):
            return (
                f"cannot reach the Mizual server at {self.server}; is it running "
                "(`mizual serve`), or is --server wrong?"
            )
        if isinstance(exc, httpx.TimeoutException):
            return f"the Mizual server at {self.server} did not answer in time"
        return f"the connection to the Mizual server at {self.server} failed ({type(exc).__name__})"

    # Following an edit ----------------------------------------------------------------------

    def follow(self, edit_id: str) -> Iterator[dict[str, Any]]:
        """The edit's status at each change, until it completes or fails (the last one).

        From the event stream; should it be unavailable or break twice, by polling."""
        last_id: str | None = None
        for _attempt in range(3):
            try:
                for event in self._events(edit_id, last_id):
                    last_id = event.id or last_id
                    yield event.data
                    if event.kind == "done":
                        return
            except (_StreamUnavailable, httpx.TransportError, ValueError):
                break
            # The stream ended without `done` (the server is restarting, say): resume it.
        yield from self._poll(edit_id)

    def _events(self, edit_id: str, last_id: str | None) -> Iterator[Event]:
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        timeout = httpx.Timeout(30.0, read=STREAM_READ_TIMEOUT_SECONDS)
        with self._http.stream(
            "GET", f"/edit/{edit_id}/events", headers=headers, timeout=timeout
        ) as response:
            media_type = response.headers.get("content-type", "")
            if response.status_code != 200 or not media_type.startswith("text/event-stream"):
                raise _StreamUnavailable(response.status_code)
            yield from parse_events(response.iter_lines())

    def _poll(self, edit_id: str) -> Iterator[dict[str, Any]]:
        seen: Any = None
        while True:
            view: dict[str, Any] = self._send("GET", f"/edit/{edit_id}").json()
            if view.get("updated_at") != seen:
                seen = view.get("updated_at")
                yield view
            if view.get("is_complete") or view.get("is_error"):
                return
            time.sleep(POLL_SECONDS)


def refusal(response: httpx.Response) -> str:
    """The server's own explanation of an error response, as one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, str) or not detail:
        detail = f"the server answered {response.status_code} {response.reason_phrase}".strip()
    return " ".join(detail.split())
