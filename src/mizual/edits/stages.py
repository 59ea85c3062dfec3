"""The stages of an edit, written down as data: order, retry policy, progress and messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EditStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # ours: stopped at the submitter's request (`POST /edit/{uuid}/cancel`)
    # Ours: its images removed by the retention sweep (IMAGE_RETENTION_HOURS, `mizual purge`).
    EXPIRED = "expired"
    # Ours: removed by `DELETE /edit/{uuid}`; answered 410 from then on, its prompt erased.
    DELETED = "deleted"


# The states an edit never leaves (but for the removal of its images: expired, deleted).
FINISHED_STATUSES = frozenset(
    {
        EditStatus.COMPLETED,
        EditStatus.FAILED,
        EditStatus.CANCELLED,
        EditStatus.EXPIRED,
        EditStatus.DELETED,
    }
)


class Stage(StrEnum):
    INITIALIZATION = "initialization"
    ENHANCING_PROMPT = "enhancing_prompt"
    FETCHING_IMAGE = "fetching_image"
    AI_PROCESSING = "ai_processing"
    UPLOADING_RESULT = "uploading_result"
    COMPLETION = "completion"


PIPELINE: tuple[Stage, ...] = tuple(Stage)

# `processing_stage` also takes these values before the first and after the last stage.
PENDING_STAGE = "pending"
COMPLETED_STAGE = "completed"
FAILED_STAGE = "failed"
CANCELLED_STAGE = "cancelled"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    delay_seconds: float

    def delay_before(self, retry: int) -> float:
        """Exponential backoff: the base delay, doubled for every retry already made."""
        return float(self.delay_seconds * (2 ** (retry - 1)))


RETRY_POLICY: dict[Stage, RetryPolicy] = {
    Stage.INITIALIZATION: RetryPolicy(max_retries=2, delay_seconds=1),
    Stage.ENHANCING_PROMPT: RetryPolicy(max_retries=2, delay_seconds=3),
    Stage.FETCHING_IMAGE: RetryPolicy(max_retries=2, delay_seconds=5),
    Stage.AI_PROCESSING: RetryPolicy(max_retries=0, delay_seconds=0),  # fast feedback
    Stage.UPLOADING_RESULT: RetryPolicy(max_retries=2, delay_seconds=5),
    Stage.COMPLETION: RetryPolicy(max_retries=3, delay_seconds=2),
}

PROGRESS_PERCENT: dict[str, int] = {
    PENDING_STAGE: 0,
    Stage.INITIALIZATION: 5,
    Stage.ENHANCING_PROMPT: 15,
    Stage.FETCHING_IMAGE: 30,
    Stage.AI_PROCESSING: 65,
    Stage.UPLOADING_RESULT: 90,
    Stage.COMPLETION: 97,
    COMPLETED_STAGE: 100,
    CANCELLED_STAGE: 100,  # nothing more will happen: the work is over, as for a failed edit
}

STAGE_MESSAGES: dict[str, str] = {
    PENDING_STAGE: "Your edit is queued and will start shortly...",
    Stage.INITIALIZATION: "Getting your edit ready...",
    Stage.ENHANCING_PROMPT: "Understanding your request...",
    Stage.FETCHING_IMAGE: "Loading your image...",
    Stage.AI_PROCESSING: "Creating your edited image with AI...",
    Stage.UPLOADING_RESULT: "Saving your edited image...",
    Stage.COMPLETION: "Finishing up...",
    COMPLETED_STAGE: "Your edited image is ready!",
    CANCELLED_STAGE: "This edit was cancelled, as asked; no result was made or kept.",
}

# Shown when a stage fails for a reason we cannot explain better (details go to the logs).
STAGE_FAILURE_MESSAGES: dict[Stage, str] = {
    Stage.INITIALIZATION: "We could not start your edit. Please try again.",
    Stage.ENHANCING_PROMPT: "We could not prepare your prompt. Please try again.",
    Stage.FETCHING_IMAGE: "We could not load your image. Please upload it again.",
    Stage.AI_PROCESSING: "The image editor could not complete your edit. Please try again.",
    Stage.UPLOADING_RESULT: "We could not save your edited image. Please try again.",
    Stage.COMPLETION: "We could not finish your edit. Please try again.",
}


class ProcessingError(Exception):
    """A stage failed. Retryable errors are tried again per RETRY_POLICY; others end the edit.

    `message` is shown to the user, so it must be safe and actionable; `detail` goes to logs.
    """

    def __init__(self, message: str, *, retryable: bool, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.detail = detail or message
