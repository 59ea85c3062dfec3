from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mizual.deps import ClientIp, FeedbackDep, rate_limit
from mizual.errors import Conflict, Gone, InvalidInput, NotFound, NotReady, RateLimited
from mizual.errors.openapi import JSON_BODY_ERRORS, error_responses
from mizual.feedback.schemas import FeedbackCreate, FeedbackResponse, FeedbackView
from mizual.idempotency.route import IdempotentRoute
from mizual.kit.jsonbody import JsonBodyRoute
from mizual.ratelimits import RULES

router = APIRouter(tags=["feedback"], route_class=JsonBodyRoute)


class FeedbackSubmissionRoute(JsonBodyRoute, IdempotentRoute):
    """Strict JSON, then the Idempotency-Key step, then the endpoint and its rate limit (so a
    replay spends none of it)."""


# A router of its own for its route class; no tags of its own (see edits.router.submissions).
submissions = APIRouter(route_class=FeedbackSubmissionRoute)

THANKS = "Thank you for your feedback!"


@submissions.post(
    "/feedback/",
    response_model=FeedbackResponse,
    dependencies=[rate_limit(RULES.feedback)],
    responses=error_responses(NotReady, NotFound, Gone, Conflict, *JSON_BODY_ERRORS),
)
def submit_feedback(
    body: FeedbackCreate, feedback: FeedbackDep, client: ClientIp
) -> FeedbackResponse:
    """Rate a completed edit: 1 (thumbs up) or 0 (thumbs down, with text). One rating per edit."""
    record = feedback.submit(
        edit_id=body.edit_uuid,
        rating=body.rating,
        feedback_text=body.feedback_text,
        client_ip=client,
    )
    return FeedbackResponse(
        message=THANKS,
        feedback_id=record.id,
        id=record.id,
        edit_uuid=str(record.edit_uuid),
        rating=record.rating,
        feedback_text=record.feedback_text,
        created_at=record.created_at,
    )


router.include_router(submissions)


@router.get(
    "/feedback/{edit_uuid}",
    response_model=FeedbackView,
    dependencies=[rate_limit(RULES.feedback_lookup)],
    responses=error_responses(NotFound, Gone, InvalidInput, RateLimited),
)
def get_feedback(edit_uuid: str, feedback: FeedbackDep) -> dict[str, Any]:
    """The feedback given for an edit; 404 when it has none."""
    return feedback.feedback_for(edit_uuid)
