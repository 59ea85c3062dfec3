"""`multipart/form-data` bodies, parsed while they stream in, files spooled to disk.

A form is read from the request's stream chunk by chunk (python-multipart's parser), so an upload
is never held whole as a body: text fields are kept (each at most `max_field_bytes`), files are
written to a `SpooledTemporaryFile` (in memory up to `SPOOL_BYTES`, then on disk) with their
SHA-256 taken as they pass. Every bound is checked while the body arrives, so a hostile form
(thousands of parts, endless header lines, a file above the limit, a body cut short) is refused
with a `MizualError` saying what is wrong, never buffered and never a 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from mizual.errors import InvalidInput, PayloadTooLarge

# Files above this go to disk: a 20 MB photo never sits in the API's memory as a body.
SPOOL_BYTES = 1024 * 1024
_UPLOAD_KEY = "mizual.form_files"


@dataclass(frozen=True)
class FormLimits:
    max_body_bytes: int  # the whole body, boundaries and headers included
    max_file_bytes: int  # one file
    describe_file_limit: str  # "20.0 MiB", for the 413's message
    max_parts: int = 32
    max_files: int = 4  # counted before a route's own rules (e.g. "one image") are applied
    max_field_bytes: int = 64 * 1024
    max_header_bytes: int = 8 * 1024  # one header line of a part
    max_headers: int = 8  # per part


@dataclass
class UploadedFile:
    """A file part of the form, spooled; `sha256` and `size` taken while it arrived."""

    name: str
    filename: str
    content_type: str | None
    file: IO[bytes]
    size: int = 0
    sha256: str = ""

    def read(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


@dataclass
class ParsedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def close(self) -> None:
        for uploads in self.files.values():
            for upload in uploads:
                upload.file.close()


def is_form_content_type(value: str | None) -> bool:
    if not value:
        return False
    content_type, _ = parse_options_header(value)
    return content_type == b"multipart/form-data"


def stash_files(scope: MutableMapping[str, Any], form: ParsedForm) -> None:
    scope[_UPLOAD_KEY] = form.files


def uploaded_files(scope: MutableMapping[str, Any], name: str) -> list[UploadedFile]:
    """The files the request's form sent as `name` (none for a JSON body)."""
    files: dict[str, list[UploadedFile]] = scope.get(_UPLOAD_KEY, {})
    return files.get(name, [])


class _Collector:
    """The parser's callbacks: builds the form, enforcing `FormLimits` as parts arrive."""

    def __init__(self, limits: FormLimits) -> None:
        self.limits = limits
        self.form = ParsedForm()
        self.parts = 0
        self.file_count = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._text: bytearray | None = None
        self._file: UploadedFile | None = None
        self._digest: Any = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise InvalidInput(
                f"the form has more than {self.limits.max_parts} parts; send only the fields "
                "of the request"
            )
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        raw_name = options.get(b"name")
        if disposition != b"form-data" or raw_name is None:
            raise InvalidInput(
                "a part of the form has no 'Content-Disposition: form-data; name=...' header"
            )
        self._name = _text(raw_name, what="a field's name")[:100]
        raw_filename = options.get(b"filename")
        if raw_filename is None:
            self._text = bytearray()
            return
        self.file_count += 1
        if self.file_count > self.limits.max_files:
            raise InvalidInput(
                f"the form holds more than {self.limits.max_files} files; send one image"
            )
        content_type = self._headers.get(b"content-type")
        upload = UploadedFile(
            name=self._name,
            filename=_text(raw_filename, what="a file's name")[:255],
            content_type=content_type.decode("latin-1") if content_type else None,
            file=SpooledTemporaryFile(max_size=SPOOL_BYTES),  # noqa: SIM115 (closed with the form)
        )
        self.form.files.setdefault(self._name, []).append(upload)
        self._file, self._digest = upload, hashlib.sha256()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None:
            self._file.size += len(chunk)
            if self._file.size > self.limits.max_file_bytes:
                raise PayloadTooLarge(
                    f"{self._name}: the file is larger than {self.limits.describe_file_limit}, "
                    "the most this server accepts; compress or downscale it and try again"
                )
            self._digest.update(chunk)
            self._file.file.write(chunk)
        elif self._text is not None:
            self._text += chunk
            if len(self._text) > self.limits.max_field_bytes:
                raise InvalidInput(
                    f"{self._name}: the field is longer than {self.limits.max_field_bytes:,} "
                    "bytes; a file must be sent as a file part (with a filename)"
                )

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.sha256 = self._digest.hexdigest()
            self._file.file.seek(0)
        elif self._text is not None:
            value = _text(bytes(self._text), what=f"the field {self._name!r}")
            self.form.fields.setdefault(self._name, []).append(value)
        self._file, self._text = None, None


def _text(raw: bytes, *, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} in the form is not UTF-8 text") from None


async def parse_form(
    content_type: str,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    *,
    limits: FormLimits,
) -> ParsedForm:
    """The form of a `multipart/form-data` body (see the module's text); the caller closes it."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:  # RFC 2046's limit
        raise InvalidInput(
            "the multipart/form-data body has no usable boundary in its Content-Type; let the "
            "HTTP client set the header (curl -F, FormData) rather than writing it by hand"
        )
    declared = content_length or ""
    if declared.isdigit() and int(declared) > limits.max_body_bytes:  # before reading any
        raise _body_too_large(limits)
    collector = _Collector(limits)
    parser = MultipartParser(
        boundary,
        collector.callbacks(),  # type: ignore[arg-type]
        max_header_count=limits.max_headers,
        max_header_size=limits.max_header_bytes,
    )
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > limits.max_body_bytes:  # a chunked body, counted as it arrives
                raise _body_too_large(limits)
            parser.write(chunk)
        if parser.state != MultipartState.END:
            raise InvalidInput(
                "the multipart/form-data body ends before its closing boundary; it was cut "
                "short, send it again whole"
            )
    except FormParserError as exc:
        collector.form.close()
        raise InvalidInput(f"the multipart/form-data body is malformed ({exc})") from None
    except BaseException:
        collector.form.close()
        raise
    return collector.form


def _body_too_large(limits: FormLimits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {limits.max_body_bytes:,} bytes; images may be at "
        f"most {limits.describe_file_limit}"
    )
