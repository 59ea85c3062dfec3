"""A fake Gemini API: `POST /v1beta/models/<model>:generateContent`.

The key comes in the `x-goog-api-key` header (or `?key=`). Answers are taken in order from the
queue filled by `POST /_fake/answers {"answers": [...]}`; with the queue empty the fake answers
"Enhanced: <the request's text>". The key picks the scenario:
    anything else   a normal answer (finishReason STOP)
    invalid-key     400 INVALID_ARGUMENT "API key not valid"   (no key at all: 403)
    rate-limited    429 RESOURCE_EXHAUSTED
    server-error    500 INTERNAL
    blocked         no candidates; promptFeedback.blockReason SAFETY
    empty           a candidate whose text is empty
    max-tokens      a candidate cut off (finishReason MAX_TOKENS)
    slow            answers after 5 seconds
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.runner import Recorder, add_control_routes, main

SLOW_SECONDS = 5.0

_ERRORS = {
    "invalid-key": (400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT"),
    "rate-limited": (
        429,
        "Resource has been exhausted (e.g. check quota).",
        "RESOURCE_EXHAUSTED",
    ),
    "server-error": (500, "An internal error has occurred.", "INTERNAL"),
}


def create_app() -> FastAPI:
    app = FastAPI(title="fake Gemini API")
    recorder = Recorder()
    lock = threading.Lock()
    answers: list[str] = []

    add_control_routes(app, recorder, on_reset=answers.clear)

    @app.post("/_fake/answers")
    async def queue_answers(request: Request) -> dict[str, int]:
        payload = await request.json()
        with lock:
            answers.extend(str(answer) for answer in payload["answers"])
            return {"queued": len(answers)}

    @app.post("/v1beta/models/{target}")
    async def generate(target: str, request: Request) -> Response:
        entry = await recorder.record(request)
        model, _, method = target.partition(":")
        if method != "generateContent":
            return _error(404, f"Method {method!r} is not found for {model}.", "NOT_FOUND")
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key", "")
        if not key:
            return _error(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED")
        if key in _ERRORS:
            return _error(*_ERRORS[key])
        body = entry["json"] if isinstance(entry["json"], dict) else {}
        text = _request_text(body)
        if text is None:
            return _error(
                400,
                "* GenerateContentRequest.contents: contents is not specified",
                "INVALID_ARGUMENT",
            )
        if key == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        if key == "blocked":
            return JSONResponse(
                {
                    "promptFeedback": {
                        "blockReason": "SAFETY",
                        "safetyRatings": [
                            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
                        ],
                    },
                    "modelVersion": model,
                }
            )
        with lock:
            answer = answers.pop(0) if answers else f"Enhanced: {text}"[:400]
        finish = "STOP"
        if key == "empty":
            answer = ""
        elif key == "max-tokens":
            answer, finish = answer[: max(1, len(answer) // 2)], "MAX_TOKENS"
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": answer}], "role": "model"},
                        "finishReason": finish,
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": len(text.split()),
                    "candidatesTokenCount": len(answer.split()),
                    "totalTokenCount": len(text.split()) + len(answer.split()),
                },
                "modelVersion": model,
            }
        )

    return app


def _request_text(body: dict[str, Any]) -> str | None:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return None
    parts = contents[-1].get("parts") if isinstance(contents[-1], dict) else None
    if not isinstance(parts, list):
        return None
    return " ".join(
        str(part["text"]) for part in parts if isinstance(part, dict) and "text" in part
    )


def _error(code: int, message: str, status: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code
    )


if __name__ == "__main__":
    main(create_app, "Gemini")
