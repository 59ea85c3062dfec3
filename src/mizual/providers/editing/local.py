"""`EDIT_PROVIDER=local`: the offline editor, no network and no keys."""

from __future__ import annotations

from mizual.kit import imaging
from mizual.localedit.operations import apply_plan
from mizual.localedit.parser import PromptNotUnderstood, parse_prompt
from mizual.providers.editing.base import EditingError, EditOutcome, EditRequest


class LocalEditingProvider:
    name = "local"

    def edit(self, request: EditRequest) -> EditOutcome:
        # The rule parser reads the person's own words; an LLM rewrite is written for FLUX.
        try:
            plan = parse_prompt(request.prompt)
        except PromptNotUnderstood as exc:
            raise EditingError(str(exc), retryable=False) from exc
        image = imaging.load(request.image)
        return EditOutcome(image=apply_plan(image, plan), notes={"plan": plan.describe()})

    def close(self) -> None:
        return None
