"""The API fuzzed from its own OpenAPI schema (schemathesis over real HTTP): no generated request,
schema-valid or not, may get a 5xx; every answer is one the schema documents (status, content
type, headers, body); and every refusal is Mizual's JSON `{"error", "detail"}`.

One real server; `/openapi.json` is read from it. Every operation, the admin ones included (the
admin token is sent with every request), gets MAX_EXAMPLES schema-valid cases and MAX_EXAMPLES
schema-invalid ones (where the schema allows any: a string path parameter has no invalid value).
Schema-valid cases are steered, by drawn choices, towards what the schema cannot say: ids of
edits that exist, images (intact, cut short or damaged), prompts the editor understands; so
they reach the decoder, the chain rules and the workers rather than only the first check. The
edits accepted must end with a message for the user, and the server must log no traceback.

Generation is derandomized, so a run in CI repeats the one before it: about 3,200 cases (the
admin routes are also sent wrong bearer tokens), some 40 s in all. Each request claims a client
address of its own through `X-Forwarded-For` (the server trusts loopback as its proxy), so the
fixed per-client limits (5 feedback messages a minute, ...) do not turn most cases into 429s
that never reach validation.

The test is one loop rather than schemathesis's `@schema.parametrize()`: its pytest integration
(`from_fixture`, which a server started by a fixture needs) fails under pytest 9.2, whose nodes
no longer have the `_nodeid` it rewrites.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from PIL import Image as PILImage
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mizual.edits.stages import STAGE_FAILURE_MESSAGES
from tests.support import (
    UNKNOWN_ID,
    MizualServer,
    data_url,
    edit_and_wait,
    encode,
    gradient_image,
    jpeg_bytes,
    wait_for,
)

ADMIN_TOKEN = "fuzz-admin-token"
# Cases per operation and kind of data. A deeper search, with fresh randomness, for a local run:
# MIZUAL_FUZZ_EXAMPLES=1000 MIZUAL_FUZZ_SEED=7 .venv/bin/pytest tests/test_fuzz_api.py
MAX_EXAMPLES = int(os.environ.get("MIZUAL_FUZZ_EXAMPLES", "200"))
SEED = os.environ.get("MIZUAL_FUZZ_SEED")
# A hang or a runaway generator is caught by the test's timeout, set far above its usual time
# (40-80 s on 2 cores): how fast fuzzing runs is not what this test checks.
HANG_GUARD_SECONDS = 900


def _header(response: Response, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name:
            return values[0] if values else ""
    return ""


@schemathesis.check
def mizual_error_format(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A 4xx is JSON `{"error": code, "detail": what went wrong and what to do}`."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = _header(response, "content-type")
    assert content_type.startswith("application/json"), (
        f"{response.status_code} is not JSON but {content_type!r}: {response.content[:200]!r}"
    )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} body is not valid JSON: {exc}") from None
    assert isinstance(body, dict), f"{response.status_code} body is not an object: {body!r}"
    assert set(body) == {"error", "detail"}, f"{response.status_code} has fields {sorted(body)}"
    assert isinstance(body["error"], str), f"error is not a string: {body!r}"
    assert body["error"], f"error is empty: {body!r}"
    assert isinstance(body["detail"], str), f"detail is not a string: {body!r}"
    assert body["detail"].strip(), f"detail is empty: {body!r}"
    return None


# Every answer must be one the schema documents, with the documented status, content type,
# headers and body schema (the error shape included).
CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    mizual_error_format,
]


@pytest.fixture
def fuzz_server(make_server: Callable[..., MizualServer]) -> MizualServer:
    return make_server({"ADMIN_TOKEN": ADMIN_TOKEN, "TRUSTED_PROXIES": "127.0.0.1/32"})


@pytest.fixture
def api_schema(fuzz_server: MizualServer) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", timeout=10)
    schema.config.update(base_url=fuzz_server.url)
    return schema


class Known:
    """Values the schema cannot describe, that let schema-valid cases get past the first check:
    ids of edits that exist (completed, failed) or could (well-formed, unknown), and images,
    intact, cut short or with bytes overwritten, labelled with their type or another."""

    def __init__(self, server: MizualServer) -> None:
        with server.client() as client:
            completed = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
            failed = edit_and_wait(client, "add a hat", jpeg_bytes(48, 64))
        assert completed["is_complete"], completed
        assert failed["is_error"], failed
        self.edit_ids = [completed["uuid"], failed["uuid"], UNKNOWN_ID]
        small = gradient_image(40, 30)
        bmp = io.BytesIO()
        PILImage.frombytes("RGB", (small.width, small.height), small.write_to_memory()).save(
            bmp, "BMP"
        )
        self.images = [
            (encode(small, ".jpg", Q=80), "image/jpeg"),
            (encode(small, ".png"), "image/png"),
            (encode(small, ".webp"), "image/webp"),
            (encode(small, ".tif"), "image/tiff"),
            (bmp.getvalue(), "image/bmp"),
            (encode(small, ".gif"), "image/gif"),  # refused, with the reason
        ]

    def image(self, data: st.DataObject) -> str:
        raw, mime = data.draw(st.sampled_from(self.images))
        damage = data.draw(st.sampled_from(["none", "cut", "header", "anywhere"]))
        if damage == "cut":
            raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        elif damage != "none":
            last = min(len(raw), 64) - 1 if damage == "header" else len(raw) - 1
            damaged = bytearray(raw)
            for _ in range(data.draw(st.integers(1, 8))):
                damaged[data.draw(st.integers(0, last))] = data.draw(st.integers(0, 255))
            raw = bytes(damaged)
        label = data.draw(st.sampled_from([mime, "image/png", "text/html", None]))
        return data_url(raw, label) if label else base64.b64encode(raw).decode()

    def steer(self, case: Case[Any], data: st.DataObject) -> None:
        """Swap, by a drawn choice, generated values of a schema-valid case for known ones.
        Only fields the schema allows to be any string are replaced, so the case stays valid."""
        params = case.path_parameters
        if params and "edit_uuid" in params:
            params["edit_uuid"] = data.draw(st.sampled_from([params["edit_uuid"], *self.edit_ids]))
        if not isinstance(case.body, dict):
            return
        body = case.body
        optional = OPTIONAL_FIELDS.get(case.operation.label, ())
        for field in ("edit_uuid", "parent_edit_uuid"):
            if field in body or field in optional:
                body[field] = data.draw(st.sampled_from([body.get(field), *self.edit_ids]))
                if body[field] is None and field in optional:
                    del body[field]
        if isinstance(body.get("prompt"), str) and data.draw(st.booleans()):
            body["prompt"] = data.draw(st.sampled_from(PROMPTS))
        if ("image" in body or "image" in optional) and data.draw(st.booleans()):
            body["image"] = self.image(data)


# Prompts the offline editor understands, so that accepted edits get as far as editing.
PROMPTS = [
    "make it black and white",
    "rotate 90 degrees clockwise, then make it a bit brighter",
    "crop to 16:9",
    "blur the background",
    "make it look like a pencil sketch",
]

# Optional fields that `Known.steer` may set though the generated case left them out.
OPTIONAL_FIELDS = {"POST /edit-image/": ("image", "parent_edit_uuid")}

_clients = itertools.count(1)


def _request_headers() -> dict[str, str]:
    """The admin token, and a client address never used before (10.0.0.1, 10.0.0.2, ...)."""
    n = next(_clients)
    return {
        "Authorization": f"Bearer {ADMIN_TOKEN}",
        "X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
    }


def _outcome(response: Response) -> str:
    """`200`, or the status and error code: `422 invalid_input`."""
    if response.status_code < 400:
        return str(response.status_code)
    try:
        return f"{response.status_code} {json.loads(response.content)['error']}"
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)


def _form_with_typed_text(case: Case[Any]) -> bool:
    """A form one of whose text fields was generated as another JSON type (`prompt: {}`): it is
    sent as its text ("{}"), a valid value of that field, since a form holds only text. The
    server cannot refuse it for a type it cannot see; every other check still applies."""
    if not (case.media_type or "").startswith("multipart/") or not isinstance(case.body, dict):
        return False
    return any(not isinstance(value, str | bytes) for value in case.body.values())


def fuzz(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    known: Known,
    statuses: Counter[str],
) -> list[str]:
    """MAX_EXAMPLES cases of `operation`, each sent to the server and checked; returns the ids
    of the edits that were accepted."""
    accepted: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        # No shrinking: each case is a real request, and the failing case is reported as found.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Case[Any], data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            known.steer(case, data)
        headers = _request_headers()
        response = case.call(headers=headers, timeout=10)
        statuses[_outcome(response)] += 1
        checks = CHECKS
        if mode is GenerationMode.NEGATIVE and _form_with_typed_text(case):
            checks = [check for check in CHECKS if check is not negative_data_rejection]
        case.validate_response(response, checks=checks, headers=headers)
        if operation.label == "POST /edit-image/" and response.status_code == 200:
            accepted.append(response.json()["edit_id"])

    if SEED is not None:
        run = hypothesis.seed(int(SEED))(run)
    run()
    return accepted


@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.timeout(HANG_GUARD_SECONDS)
def test_no_request_gets_a_server_error(
    fuzz_server: MizualServer, api_schema: schemathesis.BaseSchema
) -> None:
    known = Known(fuzz_server)
    started = time.monotonic()
    failures: list[str] = []
    accepted: list[str] = []
    summary: dict[str, dict[str, dict[str, int]]] = {}
    for result in api_schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema is not usable: {result.err()}")
            continue
        operation = result.ok()
        for mode in GenerationMode:
            statuses: Counter[str] = Counter()
            try:
                accepted += fuzz(operation, mode, known, statuses)
            except Unsatisfiable:
                if statuses or mode is GenerationMode.POSITIVE:
                    raise
                # Nothing about this operation can be invalid (no body, string parameters only).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode} data): {exc}")
            summary.setdefault(operation.label, {})[mode.value] = dict(sorted(statuses.items()))
    elapsed = time.monotonic() - started
    cases = sum(sum(modes.values()) for per_mode in summary.values() for modes in per_mode.values())
    print(f"\n{cases} cases in {elapsed:.1f} s; {len(accepted)} edits accepted")
    for label, per_mode in summary.items():
        print(f"  {label}: {per_mode}")

    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    assert summary, "the schema has no operations"
    never_sent = [label for label, per_mode in summary.items() if not per_mode["positive"]]
    assert not never_sent, f"no case was sent to {never_sent}"
    negative = sum(sum(per_mode["negative"].values()) for per_mode in summary.values())
    assert negative > 0, "no schema-invalid case was generated"
    rate_limited = sum(
        n for m in summary.values() for seen in m.values() for k, n in seen.items() if "429" in k
    )
    assert rate_limited < cases / 10, f"{rate_limited} of {cases} cases were rate-limited"

    # The edits the fuzzer got accepted (random prompts on real images) all end, as completed
    # or failed with a message for the user.
    unexplained = set(STAGE_FAILURE_MESSAGES.values())
    with fuzz_server.client() as client:
        for edit_id in accepted:
            if client.get(f"/edit/{edit_id}").status_code == 410:
                continue  # deleted by a fuzzed DELETE /edit/{uuid} (the admin token is sent)
            status = wait_for(client, edit_id)
            assert status["message"] not in unexplained, status
    # Nothing the server did raised unexpectedly, in a request or in a worker.
    assert "Traceback" not in fuzz_server.log(), fuzz_server.log()[-5000:]
