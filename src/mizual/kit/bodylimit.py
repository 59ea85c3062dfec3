"""Refuses request bodies above a size while they stream in, before they are buffered whole."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(HTTPException):
    """An HTTP exception, so FastAPI passes it on to the app's handlers as a 413 (it turns any
    other exception raised while reading the body into a 400 "error parsing the body")."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, advice: str) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.advice = advice

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(413, self._detail(), headers={"connection": "close"})
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._refuse(send)

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes:,} bytes. {self.advice}"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": "payload_too_large", "detail": self._detail()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
