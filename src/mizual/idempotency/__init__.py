"""Idempotent submits: the `Idempotency-Key` header of `POST /edit-image/` and `/feedback/`."""
