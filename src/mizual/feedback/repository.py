"""All SQL about feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Delete, Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from mizual.kit.db.tables import edit_feedback, utcnow
from mizual.kit.db.timing import OperationTimings, timed


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    edit_uuid: UUID
    rating: int
    feedback_text: str | None
    created_at: datetime


def erase_for_edit(edit_uuid: UUID) -> Delete:
    """The statement that removes an edit's feedback (its text and the rater's network): run by
    the edits repository in the transaction that erases the edit (`DELETE /edit/{uuid}`)."""
    return delete(edit_feedback).where(edit_feedback.c.edit_uuid == edit_uuid)


class DuplicateFeedback(Exception):
    pass


class FeedbackRepository:
    def __init__(self, engine: Engine, timings: OperationTimings) -> None:
        self.engine = engine
        self.timings = timings

    @timed
    def create(
        self, *, edit_uuid: UUID, rating: int, feedback_text: str | None, user_ip: str | None
    ) -> FeedbackRecord:
        created_at = utcnow()
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(
                    insert(edit_feedback)
                    .values(
                        edit_uuid=edit_uuid,
                        rating=rating,
                        feedback_text=feedback_text,
                        user_ip=user_ip,
                        created_at=created_at,
                    )
                    .returning(edit_feedback.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateFeedback(str(edit_uuid)) from exc
        return FeedbackRecord(new_id, edit_uuid, rating, feedback_text, created_at)

    @timed
    def get_for_edit(self, edit_uuid: UUID) -> FeedbackRecord | None:
        query = select(
            edit_feedback.c.id,
            edit_feedback.c.edit_uuid,
            edit_feedback.c.rating,
            edit_feedback.c.feedback_text,
            edit_feedback.c.created_at,
        ).where(edit_feedback.c.edit_uuid == edit_uuid)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return FeedbackRecord(*row) if row else None
