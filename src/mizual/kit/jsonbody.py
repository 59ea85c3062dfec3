"""JSON request bodies, read strictly before FastAPI validates them.

FastAPI alone accepts a body without a JSON content type as raw bytes (then fails with "Input
should be a valid dictionary"), turns a 10,000-deep array into a bare 400 ("There was an error
parsing the body", from a RecursionError), lets the last of two equal names win, and accepts
`NaN` and `Infinity`. A route of `JsonBodyRoute` with a body instead refuses each of these with
a `MizualError` whose message says what to fix; the body is parsed once, in a worker thread.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from mizual.errors import InvalidInput, UnsupportedMediaType

# Mizual's bodies are one flat object of a few fields; these leave room and bound the parser.
MAX_JSON_DEPTH = 32
MAX_JSON_VALUES = 1000

_BRACKETS_ONLY = bytes(range(256)).translate(None, b"[]{}")
_OBJECTS_AS_ARRAYS = bytes.maketrans(b"{}", b"[]")
_OPEN = ord("[")


def is_json_content_type(value: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, parameters allowed (as FastAPI)."""
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def check_structure(body: bytes) -> None:
    """Refuse a body nested more than MAX_JSON_DEPTH deep or holding more than MAX_JSON_VALUES
    values, before it is parsed (a 25 MB body of empty arrays would take the parser seconds).

    Strings are cut out with bytes operations (escapes first), so the cost is linear and in C;
    only the first brackets are walked in Python, and a body with more has too many values.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    brackets = outside_strings.translate(_OBJECTS_AS_ARRAYS, _BRACKETS_ONLY)
    depth = 0
    for char in brackets[: 2 * MAX_JSON_VALUES + 2]:
        depth += 1 if char == _OPEN else -1
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
    if outside_strings.count(b",") + brackets.count(b"[") > MAX_JSON_VALUES:
        raise InvalidInput(
            f"the request body holds more than {MAX_JSON_VALUES} values; send only the "
            "fields of the request"
        )


def parse_json_body(body: bytes) -> Any:
    """The body's JSON value, or `InvalidInput` saying what is wrong with it."""
    if not body.strip():
        raise InvalidInput("the request body is empty; send a JSON object")
    check_structure(body)
    try:
        return json.loads(body, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except RecursionError:  # not expected after check_structure; never a 500 all the same
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the request body is not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not valid JSON (it is not UTF-8 text)") from None
    except ValueError:  # Python's limit on the digits of an integer (4300)
        raise InvalidInput(
            "the request body is not usable JSON: a number in it has too many digits"
        ) from None


def _too_deep() -> InvalidInput:
    return InvalidInput(
        f"the request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep; "
        "send a flat JSON object"
    )


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise InvalidInput(
                    f"the request body names {name[:60]!r} twice; send each field once"
                )
            seen.add(name)
    return result


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"the request body is not valid JSON ({name} is not a JSON value)")


class _ParsedRequest(Request):
    """The request, with its body already read and parsed."""

    def __init__(self, request: Request, body: bytes, value: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._checked_body = body
        self._value = value

    async def body(self) -> bytes:
        return self._checked_body

    async def json(self) -> Any:
        return self._value


class JsonBodyRoute(APIRoute):
    """A route whose body, if it takes one, must be strict JSON (see the module's text)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            body = await request.body()
            if not is_json_content_type(request.headers.get("content-type")):
                raise UnsupportedMediaType(
                    "the request body must be JSON, sent with 'Content-Type: application/json'"
                )
            value = await run_in_threadpool(parse_json_body, body)
            return await handler(_ParsedRequest(request, body, value))

        return checked
