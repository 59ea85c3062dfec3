from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

MAX_FEEDBACK_CHARS = 2000


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edit_uuid: str = Field(
        description="The edit rated: its id, in the canonical 36-character form."
    )
    rating: Literal[0, 1] = Field(description="1 for thumbs up, 0 for thumbs down")
    feedback_text: str | None = Field(
        default=None,
        description="Required with a thumbs down (rating 0); at most 2000 characters.",
    )

    @field_validator("feedback_text")
    @classmethod
    def not_absurdly_long(cls, value: str | None) -> str | None:
        # The exact limit is applied after cleaning (see feedback.service); this spares the work.
        if value is not None and len(value) > 10 * MAX_FEEDBACK_CHARS:
            raise ValueError(
                f"{len(value)} characters is too long; at most {MAX_FEEDBACK_CHARS} are accepted"
            )
        return value

    @field_validator("rating", mode="before")
    @classmethod
    def integer_rating(cls, value: Any) -> Any:
        # Literal[0, 1] alone lets true, false and 1.0 through as 1 and 0.
        if isinstance(value, bool | float):
            raise PydanticCustomError("literal_error", "Input should be 0 or 1")
        return value


class FeedbackView(BaseModel):
    """An edit's feedback, as `GET /feedback/{edit_uuid}` answers it (the reference's fields)."""

    id: StrictInt
    edit_uuid: str
    rating: int = Field(description="1 for thumbs up, 0 for thumbs down")
    feedback_text: str | None
    user_ip: None = Field(
        default=None,
        description="Always null: the (anonymised) address is kept for analytics, never shown.",
    )
    created_at: datetime


class FeedbackResponse(BaseModel):
    """The answer to `POST /feedback/`: the reference's `success`, `message` and `feedback_id`,
    and the stored feedback itself."""

    success: Literal[True] = True
    message: str
    feedback_id: StrictInt = Field(description="The stored feedback's id (the same as `id`).")
    id: StrictInt
    edit_uuid: str
    rating: int
    feedback_text: str | None
    created_at: datetime
