"""A fake OpenAI API: `POST /v1/chat/completions` (and `GET /v1/models`).

Bearer key in `Authorization`. Answers come in order from the queue filled by
`POST /_fake/answers {"answers": [...]}`; with the queue empty the fake answers
"Enhanced: <the last user text>". The key picks the scenario:
    anything else   a normal answer (finish_reason stop)
    invalid-key     401 invalid_api_key   (no key at all: 401 too)
    rate-limited    429 rate_limit_exceeded, Retry-After: 1
    server-error    500 server_error
    refusal         content null, a refusal message
    empty           an empty content
    length          an answer cut off (finish_reason length)
    slow            answers after 5 seconds
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.runner import Recorder, add_control_routes, main

SLOW_SECONDS = 5.0


def create_app() -> FastAPI:
    app = FastAPI(title="fake OpenAI API")
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

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        await recorder.record(request)
        problem = _auth_problem(request)
        if problem is not None:
            return problem
        return JSONResponse({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        entry = await recorder.record(request)
        problem = _auth_problem(request)
        if problem is not None:
            return problem
        key = _key(request)
        if key == "rate-limited":
            return _error(
                429,
                "Rate limit reached for requests. Please try again in 1s.",
                "requests",
                "rate_limit_exceeded",
                headers={"retry-after": "1"},
            )
        if key == "server-error":
            return _error(
                500, "The server had an error while processing your request.", "server_error"
            )
        body = entry["json"] if isinstance(entry["json"], dict) else {}
        model = body.get("model")
        text = _last_user_text(body)
        if not isinstance(model, str) or text is None:
            return _error(
                400,
                "you must provide a model parameter and at least one user message",
                "invalid_request_error",
            )
        if key == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        with lock:
            answer = answers.pop(0) if answers else f"Enhanced: {text}"[:400]
        message: dict[str, Any] = {"role": "assistant", "content": answer, "refusal": None}
        finish = "stop"
        if key == "refusal":
            message = {
                "role": "assistant",
                "content": None,
                "refusal": "I'm sorry, I can't help with that request.",
            }
        elif key == "empty":
            message["content"] = ""
        elif key == "length":
            message["content"], finish = answer[: max(1, len(answer) // 2)], "length"
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": len(text.split()),
                    "completion_tokens": len(answer.split()),
                    "total_tokens": len(text.split()) + len(answer.split()),
                },
            }
        )

    return app


def _key(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key if scheme.lower() == "bearer" else ""


def _auth_problem(request: Request) -> Response | None:
    key = _key(request)
    if not key:
        return _error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth.",
            "invalid_request_error",
        )
    if key == "invalid-key":
        return _error(
            401,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )
    return None


def _last_user_text(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    return None


def _error(
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
        headers=headers,
    )


if __name__ == "__main__":
    main(create_app, "OpenAI")
