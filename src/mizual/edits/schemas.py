"""Request and response shapes of the edits API (fields as in the reference, plus ours)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mizual.edits.stages import (
    CANCELLED_STAGE,
    FAILED_STAGE,
    PROGRESS_PERCENT,
    STAGE_MESSAGES,
    EditStatus,
)

MAX_PROMPT_CHARS = 1000
WEBHOOK_EVENTS = ("completed", "failed", "cancelled", "stage")
DEFAULT_WEBHOOK_EVENTS = ("completed", "failed", "cancelled")
OutputFormat = Literal["jpeg", "png", "webp", "avif"]

if TYPE_CHECKING:
    from mizual.edits.repository import EditRecord
    from mizual.kit.storage.base import Storage


class EditImageRequest(BaseModel):
    # A misspelt field (`parent_edit_id`) is refused by name rather than silently ignored.
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        description="What to change, in plain English (at most 1000 characters after cleaning).",
        examples=["make it black and white"],
    )
    image: str | None = Field(
        default=None,
        description="The image as a data URL (data:image/jpeg;base64,...) or bare base64. "
        "May be omitted when parent_edit_uuid is given: the parent's result is then edited. "
        "(Or send the file itself as multipart/form-data, or give image_url.)",
    )
    image_url: str | None = Field(
        default=None,
        description="Ours: instead of image, an https:// URL of a public address that the "
        "server fetches the image from (no redirects; the same size and pixel limits).",
        examples=["https://example.com/photo.jpg"],
    )
    output_format: OutputFormat | None = Field(
        default=None,
        description="Ours: the result's format: jpeg (the default; progressive, quality 85), "
        "png, webp or avif. A result with transparency asked for as jpeg is stored as png.",
    )
    output_quality: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Ours: the encoder's quality for jpeg, webp and avif, 1-100 (defaults: "
        "85, 80, 60); ignored for png, which is lossless.",
    )
    parent_edit_uuid: str | None = Field(
        default=None,
        description="A completed edit to continue from: its id, in the canonical 36-character "
        "form.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Where to POST the edit's status when it finishes (or at each stage): "
        "https:// (http:// only where the server allows it), to a public address. Each "
        "delivery is signed the Standard Webhooks way; see docs/api.md.",
        examples=["https://example.com/hooks/mizual"],
    )
    webhook_events: list[str] | None = Field(
        default=None,
        description="Which events to send to webhook_url: any of completed, failed, "
        "cancelled, stage. Default: the three final ones.",
    )

    @field_validator("prompt")
    @classmethod
    def not_absurdly_long(cls, value: str) -> str:
        # The exact limit is applied after cleaning (see edits.service); this spares the work.
        if len(value) > 20 * MAX_PROMPT_CHARS:
            raise ValueError(
                f"the prompt is {len(value)} characters long; at most {MAX_PROMPT_CHARS} "
                "are accepted"
            )
        return value

    @field_validator("webhook_events")
    @classmethod
    def known_events(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = [event for event in value if event not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(
                f"unknown webhook event(s) {', '.join(map(repr, unknown))}; choose from "
                + ", ".join(WEBHOOK_EVENTS)
            )
        if not value:
            raise ValueError("give at least one event, or leave webhook_events out")
        return sorted(set(value), key=WEBHOOK_EVENTS.index)


class EditCreateResponse(BaseModel):
    edit_id: str
    polling_url: str
    edit_token: str = Field(
        description="Ours: the submitter's secret for this edit. Send it as "
        "`Authorization: Bearer <edit_token>` to cancel the edit. Shown once: only its hash "
        "is stored."
    )


class WebhookDelivery(BaseModel):
    delivered: bool = Field(description="The last event sent was answered with a 2xx.")
    attempts: int = Field(description="Attempts made for the last event sent.")
    event: str | None = Field(default=None, description="The last event sent.")
    last_status_code: int | None = Field(
        default=None, description="The receiver's last answer (null: no answer, e.g. timeout)."
    )
    state: str = Field(
        default="pending", description="pending (being tried), delivered or failed (given up)."
    )


class ResultInfo(BaseModel):
    format: str = Field(description="jpeg, png, webp or avif.")
    width: int = Field(description="Pixels.")
    height: int = Field(description="Pixels.")
    bytes: int = Field(description="The stored file's size.")


class EditStatusView(BaseModel):
    uuid: str
    status: str
    processing_stage: str | None
    message: str
    progress_percent: int
    is_complete: bool = Field(
        description="Processing has finished, successfully or not (as in the reference): stop "
        "polling. `is_error` or `status` says which."
    )
    is_error: bool = Field(description="The edit failed; `message` says why and what to do.")
    edited_image_url: str | None
    created_at: datetime
    # Ours, beyond the reference's fields:
    prompt: str
    enhanced_prompt: str | None
    prompt_note: str | None = Field(
        description="How enhanced_prompt was arrived at: by which LLM, or why the prompt was "
        "used as written."
    )
    edit_plan: list[dict[str, Any]] | None = Field(
        description="How the offline editor read the prompt: the operations in order, each with "
        "its parameters and the words it came from, and what a step that looks at the photo "
        'found in it (`found`: "2 faces found"). Null for other editors and until the edit '
        "is made."
    )
    original_image_url: str | None = Field(
        description="The uploaded image (for an edit continuing a chain: its parent's result); "
        "null once the edit's images are removed (status expired)."
    )
    error_stage: str | None
    updated_at: datetime
    finished_at: datetime | None
    stage_timings_ms: dict[str, float]
    chain_position: int | None
    parent_edit_uuid: str | None
    webhook: WebhookDelivery | None = Field(
        default=None,
        description="How the webhook deliveries went; null when no webhook_url was given.",
    )
    result: ResultInfo | None = Field(
        default=None,
        description="The stored result's format, pixel size and bytes; null until completed "
        "(and once its images are removed).",
    )

    @classmethod
    def from_record(cls, record: EditRecord, *, storage: Storage) -> EditStatusView:
        if record.status in (EditStatus.EXPIRED, EditStatus.DELETED):
            return cls._without_images(record)
        failed = record.status == EditStatus.FAILED
        cancelled = record.status == EditStatus.CANCELLED
        stage = CANCELLED_STAGE if cancelled else record.processing_stage or "pending"
        if failed:
            message = record.error_message or "Your edit failed. Please try again."
            progress = PROGRESS_PERCENT.get(record.error_stage or "", 0)
        else:
            message = STAGE_MESSAGES.get(stage, "Working on your edit...")
            progress = PROGRESS_PERCENT.get(stage, 0)
        completed = record.status == EditStatus.COMPLETED
        return cls(
            uuid=str(record.uuid),
            status=record.status,
            processing_stage=FAILED_STAGE if failed else stage,
            message=message,
            progress_percent=progress,
            is_complete=completed or failed or cancelled,
            is_error=failed,
            edited_image_url=storage.url(record.result_key)
            if completed and record.result_key
            else None,
            created_at=record.created_at,
            prompt=record.prompt,
            enhanced_prompt=record.enhanced_prompt,
            prompt_note=record.prompt_note,
            edit_plan=record.edit_plan,
            original_image_url=storage.url(record.original_key),
            error_stage=record.error_stage,
            updated_at=record.updated_at,
            finished_at=record.finished_at,
            stage_timings_ms=record.stage_timings or {},
            chain_position=record.chain_position,
            parent_edit_uuid=str(record.parent_edit_uuid) if record.parent_edit_uuid else None,
            webhook=_webhook_view(record),
            result=ResultInfo.model_validate(record.result_info)
            if completed and record.result_info
            else None,
        )

    @classmethod
    def _without_images(cls, record: EditRecord) -> EditStatusView:
        """An edit whose images were removed: final, no links, its prompt and timings kept
        (expired), or erased with the rest of its personal data (deleted)."""
        deleted = record.status == EditStatus.DELETED
        return cls(
            uuid=str(record.uuid),
            status=record.status,
            processing_stage=record.status,
            # An expiry's message is written with it (how long images are kept, or by whom).
            message=DELETED_MESSAGE if deleted else record.error_message or EXPIRED_MESSAGE,
            progress_percent=100,
            is_complete=True,
            is_error=False,
            edited_image_url=None,
            created_at=record.created_at,
            prompt=record.prompt,
            enhanced_prompt=record.enhanced_prompt,
            prompt_note=record.prompt_note,
            edit_plan=record.edit_plan,
            original_image_url=None,
            error_stage=record.error_stage,
            updated_at=record.updated_at,
            finished_at=record.finished_at,
            stage_timings_ms=record.stage_timings or {},
            chain_position=record.chain_position,
            parent_edit_uuid=str(record.parent_edit_uuid) if record.parent_edit_uuid else None,
            webhook=None if deleted else _webhook_view(record),
            result=None,
        )


EXPIRED_MESSAGE = (
    "This edit's images were removed, as this server keeps images for a limited time; its "
    "prompt and timings are kept. Submit the image again to edit it anew."
)
DELETED_MESSAGE = "This edit was deleted, as asked: its images and prompt are gone."


def _webhook_view(record: EditRecord) -> WebhookDelivery | None:
    if record.webhook_url is None:
        return None
    return WebhookDelivery.model_validate(
        record.webhook_delivery or {"delivered": False, "attempts": 0}
    )


class ChainMember(BaseModel):
    edit: EditStatusView = Field(description="The edit's status, as `GET /edit/{uuid}` gives it.")
    chain_position: int | None = Field(
        description="1 for the edit that began the chain, then 2, 3, ... in order."
    )
    parent_edit_uuid: str | None = Field(
        description="The edit this one continued from; null for the first."
    )


class ChainView(BaseModel):
    edit_uuid: str = Field(description="The edit asked about.")
    chain_length: int = Field(description="How many edits `chain_history` holds.")
    chain_history: list[ChainMember] = Field(
        description="Every edit of the chain through this one, first to last: its ancestors, "
        "itself, then its descendants (the newest child where there are several)."
    )
