from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError


class FeedbackCreate(BaseModel):
    edit_uuid: str = Field(max_length=100)
    rating: Literal[0, 1] = Field(description="1 for thumbs up, 0 for thumbs down")
    feedback_text: str | None = Field(
        default=None,
        max_length=20_000,
        description="Required with a thumbs down (rating 0); at most 2000 characters.",
    )

    @field_validator("rating", mode="before")
    @classmethod
    def integer_rating(cls, value: Any) -> Any:
        # Literal[0, 1] alone lets true, false and 1.0 through as 1 and 0.
        if isinstance(value, bool | float):
            raise PydanticCustomError("literal_error", "Input should be 0 or 1")
        return value


class FeedbackResponse(BaseModel):
    id: StrictInt
    edit_uuid: str
    rating: int
    feedback_text: str | None
    created_at: datetime
    message: str
