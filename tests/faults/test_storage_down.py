"""The S3 bucket's server down during a submission: the API says 503 with Retry-After (not a
500), leaves no edit behind, and takes submissions again once the bucket is back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Setup
from tests.faults.harness import PrivateRedis, Verdict, submit_one
from tests.support import S3Server, jpeg_bytes

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

WITHIN = 60


def test_s3_down_during_a_submission_is_a_503_and_back_it_works(
    tmp_path: Path, private_redis: PrivateRedis, build: Callable[..., Setup]
) -> None:
    bucket = f"mizual-{uuid.uuid4().hex[:12]}"
    s3 = S3Server(tmp_path / "s3-log")  # this test's own: stopping it disturbs no other test
    (tmp_path / "s3-log").mkdir()
    s3.start()
    try:
        s3.create_bucket(bucket)
        setup = build(private_redis, s3=s3.env(bucket), NOOP_EDIT_DELAY_SECONDS="0")
        api = setup.stack.api()
        setup.stack.worker()
        setup.stack.wait_for_workers(1)
        verdict = Verdict("s3 down")
        image = jpeg_bytes(64, 48)

        before = submit_one(api.url, "make it black and white", image)
        assert before.code == 200, before.body
        rows, _ = setup.rows.settle(30)
        assert [row["status"] for row in rows] == ["completed"], rows

        s3.stop()
        during = submit_one(api.url, "make it black and white again", image)
        verdict.note(
            f"submission with S3 down: {during.code} after {during.seconds:.1f}s, "
            f"Retry-After {during.headers.get('retry-after')!r}: {during.body[:200]}"
        )
        verdict.check(during.code == 503, f"answered {during.code}, not 503: {during.body}")
        verdict.check(
            bool(during.headers.get("retry-after")), "the 503 carries no Retry-After header"
        )
        verdict.check(during.seconds < 30, f"the refusal took {during.seconds:.1f}s")
        left = [r for r in setup.rows.all() if r["status"] not in ("completed", "failed")]
        verdict.check(not left, f"the refused submission left an unfinished edit: {left}")

        s3.start()  # moto keeps its buckets in memory: the bucket is made again
        s3.create_bucket(bucket)
        after = submit_one(api.url, "make it black and white once more", image)
        verdict.note(f"submission with S3 back: {after.code}")
        verdict.check(after.code == 200, f"after S3 came back: {after.code} {after.body}")
        rows, took = setup.rows.settle(WITHIN)
        expected = [before.edit_id, *([after.edit_id] if after.edit_id else [])]
        accepted_rows = [row for row in rows if row["uuid"] in expected]
        verdict.every_edit_completed(accepted_rows, expected, within=WITHIN, took=took)
        others = [row for row in rows if row["uuid"] not in expected]
        verdict.note(f"edits besides the accepted ones: {[(r['status']) for r in others]}")
        verdict.check(
            all(r["status"] == "failed" and r["error_message"] for r in others),
            f"an edit nobody was told about is not failed with a message: {others}",
        )
        verdict.processes_alive(setup.stack)
        verdict.assert_ok(setup.stack.log_lines("ERROR", "Traceback", "storage", limit=20))
    finally:
        s3.stop()
