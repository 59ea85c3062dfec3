from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mizual.cleaning import parse_edit_id
from mizual.deps import EditsDep, EditStatusDep, EventsDep, RemovalDep, rate_limit
from mizual.edits.budget import SubmissionBudget, SubmissionRoute
from mizual.edits.schemas import (
    ChainView,
    EditCreateResponse,
    EditImageRequest,
    EditStatusView,
)
from mizual.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
)
from mizual.errors.openapi import JSON_BODY_ERRORS, error_responses
from mizual.kit.jsonbody import JsonBodyRoute
from mizual.kit.multipartbody import uploaded_files
from mizual.ratelimits import RULES

router = APIRouter(tags=["edits"], route_class=JsonBodyRoute)


# A router of its own, for its route class: the budgets are charged and refusals counted there.
# No tags of its own: it has `router`'s, and a second "edits" would list the operation twice in
# the docs (Redoc shows it twice, generators see two tags).
submissions = APIRouter(route_class=SubmissionRoute)


@submissions.post(
    "/edit-image/",
    response_model=EditCreateResponse,
    responses=error_responses(NotFound, Conflict, *JSON_BODY_ERRORS),
)
def edit_image(body: EditImageRequest, request: Request, edits: EditsDep) -> EditCreateResponse:
    """Submit an image and a prompt; returns at once with the id to follow the edit by. The
    image is JSON's base64 `image`, a multipart/form-data form's `image` file, or `image_url`."""
    # A form's file, spooled by SubmissionRoute while the body arrived (none for JSON).
    files = uploaded_files(request.scope, "image")
    # Checked first, so that a refused request spends none of the client's edits.
    submission = edits.prepare(
        prompt=body.prompt,
        image=body.image,
        image_bytes=files[0].read() if files else None,
        image_url=body.image_url,
        parent_edit_id=body.parent_edit_uuid,
        webhook_url=body.webhook_url,
        webhook_events=body.webhook_events,
        output_format=body.output_format,
        output_quality=body.output_quality,
    )
    with SubmissionBudget.of(request).charge():
        accepted = edits.accept(submission)
    edit_uuid = accepted.record.uuid
    return EditCreateResponse(
        edit_id=str(edit_uuid), polling_url=f"/edit/{edit_uuid}", edit_token=accepted.edit_token
    )


router.include_router(submissions)


@router.get(
    "/edit/{edit_uuid}",
    response_model=EditStatusView,
    dependencies=[rate_limit(RULES.status)],
    responses=error_responses(NotFound, Gone, InvalidInput, RateLimited),
)
async def edit_status(edit_uuid: str, edit_status: EditStatusDep) -> JSONResponse:
    """The edit's stage, progress and, once completed, the result URL."""
    # The hottest endpoint: async, so that a cached status is answered on the event loop without
    # a thread hop. The view was built as an EditStatusView, so it is sent as it is rather than
    # validated against the model again.
    return JSONResponse(await edit_status.aread(parse_edit_id(edit_uuid)))


# Declares the scheme in the OpenAPI document (Swagger UI's "Authorize", generated clients); the
# service decides (401 without a token, 403 with another).
EDIT_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="EditToken",
    description="`Authorization: Bearer <edit_token>`: the token the edit's submission "
    "answered (or the server's ADMIN_TOKEN).",
)


@router.post(
    "/edit/{edit_uuid}/cancel",
    response_model=EditStatusView,
    dependencies=[rate_limit(RULES.status)],
    responses=error_responses(
        NotFound, Gone, InvalidInput, Unauthorized, Forbidden, Conflict, RateLimited
    ),
)
def cancel_edit(
    edit_uuid: str,
    edits: EditsDep,
    edit_status: EditStatusDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(EDIT_BEARER)],
) -> JSONResponse:
    """Stop an edit: a pending one never starts, a processing one stops at its next stage (a
    FLUX edit at its next poll) and stores no result. Answers the cancelled edit's status."""
    record = edits.cancel(edit_uuid, token=credentials.credentials if credentials else None)
    return JSONResponse(edit_status.view(record))


@router.get(
    "/edit/{edit_uuid}/events",
    dependencies=[rate_limit(RULES.status)],
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
        204: {"description": "Last-Event-ID already holds the final state: nothing to send."},
        **error_responses(NotFound, Gone, InvalidInput, RateLimited),
    },
)
async def edit_events(
    edit_uuid: str,
    events: EventsDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """The edit's status as server-sent events: `status` on every change (the current state
    first), `done` when it completes, fails or is cancelled. Async: a stream holds no thread
    while it waits."""
    return await events.open(edit_uuid, last_event_id=last_event_id)


@router.get(
    "/chain/{edit_uuid}",
    response_model=ChainView,
    dependencies=[rate_limit(RULES.chain)],
    responses=error_responses(NotFound, Gone, InvalidInput, RateLimited),
)
def edit_chain(edit_uuid: str, edits: EditsDep) -> JSONResponse:
    """Every edit of the chain through this one, positions 1..n."""
    # Sent as built (each member a status view, as `GET /edit/{uuid}` sends it): the model
    # describes the body; validating it again would only cost time.
    return JSONResponse(edits.chain(edit_uuid))


@router.delete(
    "/edit/{edit_uuid}",
    status_code=204,
    response_class=Response,
    dependencies=[rate_limit(RULES.status)],
    responses={
        204: {"description": "Deleted: its images and personal data are gone."},
        **error_responses(
            NotFound, Gone, InvalidInput, Unauthorized, Forbidden, Conflict, RateLimited
        ),
    },
)
def delete_edit(
    edit_uuid: str,
    removal: RemovalDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(EDIT_BEARER)],
    cascade: Annotated[
        bool,
        Query(description="Also delete the edits continuing from this one (else: 409)."),
    ] = False,
) -> Response:
    """Delete an edit: its original (unless it is its parent's result), its result, its prompt
    and feedback. A pending or processing edit is cancelled first. From then on the edit
    answers 410 and its image URLs serve nothing."""
    removal.delete(
        edit_uuid, token=credentials.credentials if credentials else None, cascade=cascade
    )
    return Response(status_code=204)
