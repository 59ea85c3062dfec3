"""JSON request bodies, read strictly before FastAPI validates them.

FastAPI alone accepts a body without a JSON content type as raw bytes (then fails with "Input
should be a valid dictionary"), turns a 10,000-deep array into a bare 400 ("There was an error
parsing the body", from a RecursionError), lets the last of two equal names win, and accepts
`NaN` and `Infinity`. A route of `JsonBodyRoute` with a body instead refuses each of these with
a `MizualError` whose message says what to fix; the body is parsed once, in a worker thread.

A route class that names `form_file_fields` also takes `multipart/form-data` on the same path
(`mizual.kit.multipartbody`): the form is streamed to temporary files, its text fields become
the JSON value FastAPI validates (the same model, so the same rules and messages), and its files
are left for the endpoint (`uploaded_files`). The request's `identity`, which Idempotency-Key
hashes, is then the fields and each file's SHA-256, so a retry with another boundary replays.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from mizual.errors import InvalidInput, UnsupportedMediaType
from mizual.kit.multipartbody import (
    FormLimits,
    ParsedForm,
    is_form_content_type,
    parse_form,
    stash_files,
)

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


def check_structure(body: bytes | bytearray) -> None:
    """Refuse a body nested more than MAX_JSON_DEPTH deep or holding more than MAX_JSON_VALUES
    values, before it is parsed (a 25 MB body of empty arrays would take the parser seconds).

    Strings are cut out with bytes operations (escapes first), so the cost is linear and in C;
    only the first brackets are walked in Python, and a body with more has too many values.
    """
    # Only a body with escapes is copied (a bytearray's replace copies even when nothing is).
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in body else body
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


def parse_json_body(body: bytearray) -> Any:
    """The body's JSON value, or `InvalidInput` saying what is wrong with it.

    The buffer is emptied once its text is decoded: an inline image then lives in the body's
    text and in the value parsed from it, not also in the bytes (json.loads would hold all
    three at once)."""
    if not body or body.isspace():  # not strip(): a bytearray's copies even when nothing goes
        raise InvalidInput("the request body is empty; send a JSON object")
    check_structure(body)
    try:
        # As json.loads decodes bytes: UTF-8 (a BOM skipped), or UTF-16/32 by their zeros.
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not valid JSON (it is not UTF-8 text)") from None
    body.clear()
    try:
        return json.loads(text, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except RecursionError:  # not expected after check_structure; never a 500 all the same
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the request body is not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None
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
    """The request, with its body already read and parsed; `identity` is what idempotency
    hashes (the JSON value itself, or a form's fields and its files' digests)."""

    def __init__(self, request: Request, body: bytes, value: Any, *, identity: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._checked_body = body
        self._value = value
        self.identity = identity

    async def body(self) -> bytes:
        return self._checked_body

    async def json(self) -> Any:
        return self._value


async def body_identity(request: Request) -> Any:
    """What makes two requests the same request, for Idempotency-Key."""
    if isinstance(request, _ParsedRequest):
        return request.identity
    return await request.json()


async def _read_body(request: Request) -> bytearray:
    """The body in one buffer that grows as it streams in, not cached on the request: no list
    of chunks beside their join, and nothing left to hold it once it is parsed."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return body


class JsonBodyRoute(APIRoute):
    """A route whose body, if it takes one, must be strict JSON, or a form where the route class
    allows it (see the module's text)."""

    # Set by a route class that takes multipart/form-data too: its file fields (each sent at
    # most once), and the fields a form may repeat (or give comma-separated) for a JSON list.
    form_file_fields: ClassVar[tuple[str, ...]] = ()
    form_list_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.form_file_fields and self.body_field is not None:
            _document_form(self)

    def multipart_limits(self, request: Request) -> FormLimits:
        raise NotImplementedError("a route class with form_file_fields gives its limits")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if self.form_file_fields and is_form_content_type(content_type):
                return await self._handle_form(request, handler)
            body = await _read_body(request)
            if not is_json_content_type(content_type):
                raise UnsupportedMediaType(
                    "the request body must be JSON, sent with 'Content-Type: application/json'"
                    + (" (or a multipart/form-data form)" if self.form_file_fields else "")
                )
            value = await run_in_threadpool(parse_json_body, body)
            # The body's bytes are not kept past the parse (an inline image is 4/3 of the
            # photo); FastAPI only asks whether there was one, then takes the parsed value.
            del body
            return await handler(_ParsedRequest(request, b"{}", value, identity=value))

        return checked

    async def _handle_form(
        self, request: Request, handler: Callable[[Request], Coroutine[Any, Any, Response]]
    ) -> Response:
        try:
            form = await parse_form(
                request.headers["content-type"],
                request.headers.get("content-length"),
                request.stream(),
                limits=self.multipart_limits(request),
            )
        except ClientDisconnect:  # nobody reads the answer; a 4xx, not a traceback in the log
            raise InvalidInput("the client went away before the form was sent whole") from None
        try:
            value = self._form_value(form)
            identity = {
                "form": value,
                "files": {
                    name: [{"sha256": upload.sha256, "bytes": upload.size} for upload in uploads]
                    for name, uploads in sorted(form.files.items())
                },
            }
            stash_files(request.scope, form)
            # FastAPI reads a JSON body only under a JSON content type: the form's fields are
            # handed to it as one, so the model validates them as it validates JSON.
            scope = dict(request.scope)
            scope["headers"] = [
                (header, content) for header, content in request.scope["headers"]
                if header != b"content-type"
            ] + [(b"content-type", b"application/json")]  # fmt: skip
            parsed = _ParsedRequest(
                Request(scope, request.receive), b"{}", value, identity=identity
            )
            return await handler(parsed)
        finally:
            form.close()

    def _form_value(self, form: ParsedForm) -> dict[str, Any]:
        """The form as the JSON object it stands for (files are not in it)."""
        for name, uploads in form.files.items():
            if name not in self.form_file_fields:
                raise InvalidInput(
                    f"{name[:60]}: a file was sent in this field; files are accepted only as "
                    + ", ".join(self.form_file_fields)
                )
            if len(uploads) > 1:
                raise InvalidInput(f"{name}: {len(uploads)} files were sent; send one")
        value: dict[str, Any] = {}
        for name, values in form.fields.items():
            if name in self.form_file_fields:
                raise InvalidInput(
                    f"{name}: sent as a text field; send the file itself (curl -F "
                    f"'{name}=@photo.jpg', or a File in FormData)"
                )
            if name in self.form_list_fields:
                items = [item.strip() for text in values for item in text.split(",")]
                if any(items):  # all empty: left out, as an empty text field is
                    value[name] = [item for item in items if item]
            elif len(values) > 1:
                raise InvalidInput(f"{name[:60]}: the form gives this field twice; send it once")
            elif values[0] != "":  # an HTML form sends its empty inputs: as if left out
                value[name] = values[0]
        return value


def _without_null(spec: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` as X: a form has no null, a field left out is the default."""
    choices = [choice for choice in spec.get("anyOf", []) if choice != {"type": "null"}]
    if len(choices) != 1:
        return spec
    rest = {key: value for key, value in spec.items() if key != "anyOf"}
    return {**choices[0], **rest}


def _document_form(route: JsonBodyRoute) -> None:
    """The form alternative in the operation's requestBody, built from the body's model."""
    assert route.body_field is not None
    model: Any = route.body_field.field_info.annotation
    schema = model.model_json_schema() if hasattr(model, "model_json_schema") else {}
    properties: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        if name in route.form_file_fields:
            properties[name] = {
                "type": "string",
                "format": "binary",
                "description": "The image file itself.",
            }
        elif name in route.form_list_fields:
            properties[name] = {
                "type": "array",
                "items": {"type": "string"},
                "description": spec.get("description", "")
                + " (Repeat the field, or give the values comma-separated.)",
            }
        else:
            properties[name] = _without_null(
                {key: value for key, value in spec.items() if key not in ("title", "default")}
            )
    form_schema = {"type": "object", "properties": properties}
    if schema.get("required"):
        form_schema["required"] = schema["required"]
    extra = dict(route.openapi_extra or {})
    content = extra.setdefault("requestBody", {}).setdefault("content", {})
    content.setdefault("multipart/form-data", {"schema": form_schema})
    route.openapi_extra = extra
