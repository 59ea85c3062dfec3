from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt


class FeedbackCreate(BaseModel):
    edit_uuid: str = Field(max_length=100)
    rating: Literal[0, 1] = Field(description="1 for thumbs up, 0 for thumbs down")
    feedback_text: str | None = Field(
        default=None,
        max_length=20_000,
        description="Required with a thumbs down (rating 0); at most 2000 characters.",
    )


class FeedbackResponse(BaseModel):
    id: StrictInt
    edit_uuid: str
    rating: int
    feedback_text: str | None
    created_at: datetime
    message: str
