"""Removing edits: `DELETE /edit/{uuid}` for the submitter, and the retention of images
(IMAGE_RETENTION_HOURS, `mizual purge`) for the operator. Both remove only objects the edit
owns: a chained edit's original is its parent's result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from mizual.cleaning import parse_edit_id
from mizual.edits import tokens
from mizual.edits.repository import EditRecord, EditRepository
from mizual.edits.stages import EditStatus
from mizual.edits.status import EditStatusStore
from mizual.errors import Conflict, Gone
from mizual.kit.db.tables import utcnow
from mizual.kit.storage.base import Storage
from mizual.observability import metrics
from mizual.settings import Settings

logger = logging.getLogger(__name__)


class EditRemoval:
    def __init__(
        self,
        *,
        settings: Settings,
        repository: EditRepository,
        status: EditStatusStore,
        storage: Storage,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.status = status
        self.storage = storage

    def delete(self, edit_id: str, *, token: str | None, cascade: bool = False) -> int:
        """Delete the edit for its submitter (`token`: its edit_token, or the admin token): its
        images from storage (not its parent's result, which a chained edit starts from), then
        its personal data (`EditStatusStore.erase`); a pending or processing edit is cancelled
        first. An edit others continue from is refused unless `cascade`: then they go first,
        the deepest first (they are made from its images). The number of edits deleted.
        NotFound, Gone (deleted already), Unauthorized, Forbidden, Conflict (children)."""
        edit_uuid = parse_edit_id(edit_id)
        record = self.status.record(edit_uuid)
        tokens.authorize(
            record, token=token, admin_token=self.settings.admin_token, doing="deleting"
        )
        descendants = self.repository.descendants(edit_uuid)
        if descendants and not cascade:
            raise Conflict(
                f"edit {edit_uuid} has {len(descendants)} later edit(s) continuing from it; "
                f"delete those first, or send DELETE /edit/{edit_uuid}?cascade=true to delete "
                "them with it"
            )
        deleted = sum(self._delete_one(member) is not None for member in descendants)
        if self._delete_one(edit_uuid) is None:
            # Another deletion came first (it answered), or the edit vanished: say which.
            self.status.record(edit_uuid)
            raise Gone(f"edit {edit_uuid} was deleted meanwhile")
        logger.info("edit %s: deleted (with %d descendant(s))", edit_uuid, deleted)
        return deleted + 1

    def _delete_one(self, edit_uuid: UUID) -> EditRecord | None:
        record = self.repository.get(edit_uuid)
        if record is None or record.status == EditStatus.DELETED:
            return None
        if record.status in (EditStatus.PENDING, EditStatus.PROCESSING):
            # Through the store, as a cancel: the running attempt stops at its next check, and
            # removes a result it uploads in the meantime (its write is fenced off).
            cancelled = self.status.cancel(edit_uuid)
            if cancelled is not None:
                metrics.edit_finished(EditStatus.CANCELLED)
            record = cancelled or self.repository.get(edit_uuid)
            if record is None or record.status == EditStatus.DELETED:
                return None
        self._remove_images(record)
        erased = self.status.erase(edit_uuid)
        if erased is not None:
            metrics.edit_images_removed("deleted")
        return erased

    def _remove_images(self, record: EditRecord) -> int:
        """Remove the edit's images from storage; how many objects were asked to go. Its
        original is left when it is another edit's result (the parent's, for a chained edit).
        Removing what is gone already is no error, so a failure halfway is finished later."""
        keys = [record.original_key] + ([record.result_key] if record.result_key else [])
        theirs = self.repository.results_of_others([record.original_key], besides=record.uuid)
        owned = [key for key in dict.fromkeys(keys) if key not in theirs]
        for key in owned:
            self.storage.delete(key)
        return len(owned)

    def expire_old_images(self) -> int:
        """The retention round (every SWEEP_INTERVAL_SECONDS, in every API and worker process):
        the images of finished edits created more than IMAGE_RETENTION_HOURS ago are removed;
        nothing when it is 0. The number of edits expired."""
        hours = self.settings.image_retention_hours
        if hours <= 0:
            return 0
        age = describe_age(timedelta(hours=hours))
        return self.expire(
            created_before=utcnow() - timedelta(hours=hours),
            message=RETENTION_MESSAGE.format(age=age),
        ).edits

    def purge(self, *, older_than: timedelta, dry_run: bool = False) -> Expiry:
        """`mizual purge`: expire now the finished edits older than `older_than`, whatever
        IMAGE_RETENTION_HOURS says. With `dry_run`, only count them."""
        created_before = utcnow() - older_than
        if dry_run:
            finished, in_flight = self.repository.count_expirable(created_before=created_before)
            return Expiry(edits=finished, objects=0, in_flight=in_flight)
        expiry = self.expire(
            created_before=created_before,
            message=PURGE_MESSAGE.format(age=describe_age(older_than)),
        )
        _finished, in_flight = self.repository.count_expirable(created_before=created_before)
        return Expiry(edits=expiry.edits, objects=expiry.objects, in_flight=in_flight)

    def expire(self, *, created_before: datetime, message: str) -> Expiry:
        """Mark expired (and publish) the finished edits created before then, in batches, and
        remove their images. An edit pending or processing is left until it has finished. An
        edit whose images could not all be removed stays claimed, and a round after
        EXPIRY_RETRY_SECONDS takes it up again."""
        edits = objects = failed = 0
        while True:
            claimed = self.status.claim_expiring(created_before=created_before, message=message)
            for record in claimed:
                try:
                    objects += self._remove_images(record)
                    self.repository.mark_images_removed(record.uuid)
                except Exception as exc:
                    failed += 1
                    logger.warning(
                        "edit %s: its images could not all be removed (tried again later): %r",
                        record.uuid,
                        exc,
                    )
            edits += len(claimed)
            if len(claimed) < EXPIRY_BATCH:
                break
        if edits:
            metrics.edit_images_removed("expired", edits - failed)
            logger.info("expired %d edit(s): %d image object(s) removed", edits, objects)
        return Expiry(edits=edits, objects=objects)


@dataclass(frozen=True)
class Expiry:
    """What a retention round or a purge did (or, dry, would do)."""

    edits: int
    objects: int
    in_flight: int = 0  # unfinished edits old enough, left until they have finished


EXPIRY_BATCH = 100  # as `EditRepository.claim_expiring` hands them out
RETENTION_MESSAGE = (
    "This edit's images were removed {age} after it was made, as this server keeps images no "
    "longer; its prompt and timings are kept."
)
PURGE_MESSAGE = (
    "This edit's images were removed by the server's operator (edits older than {age}); its "
    "prompt and timings are kept."
)


def describe_age(age: timedelta) -> str:
    """`7 days`, `36 hours`, `2 seconds`: the largest unit that says it in whole numbers
    (rounded to a second below a minute)."""
    seconds = age.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    if seconds >= 3600:
        hours = round(seconds / 3600, 1)
        return f"{hours:g} hours"
    count = max(1, round(seconds))
    return f"{count} second{'' if count == 1 else 's'}"
