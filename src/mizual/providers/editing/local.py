"""`EDIT_PROVIDER=local`: the offline editor, no network and no keys.

The prompt is read as an edit plan by an LLM when one is configured (LOCAL_EDITOR_LLM_PLANS),
else, or whenever the LLM's reading fails, by the rule parser.
"""

from __future__ import annotations

import logging

from mizual.kit import imaging
from mizual.localedit.findings import NothingToChange, RegionNotFound, SeeingUnavailable
from mizual.localedit.llm_reader import LlmPlanReader, NotPossible
from mizual.localedit.parser import PromptNotUnderstood, parse_prompt
from mizual.localedit.plan import EditPlan
from mizual.providers.editing.base import EditingError, EditOutcome, EditRequest

logger = logging.getLogger(__name__)


class LocalEditingProvider:
    name = "local"

    def __init__(self, *, reader: LlmPlanReader | None = None) -> None:
        self.reader = reader

    def edit(self, request: EditRequest) -> EditOutcome:
        # Imported here, not at the top: the operations bring in OpenCV and NumPy (about 27 MB),
        # which an API process that only reports the editor's name (`mizual api`) never needs.
        from mizual.localedit.operations import run_plan, streams

        # The person's own words are read; an LLM rewrite of the prompt is written for FLUX.
        plan = self.read(request.prompt)
        image = imaging.load(request.image, sequential=streams(plan))
        try:
            edited, described = run_plan(image, plan)
        except (RegionNotFound, NothingToChange, SeeingUnavailable) as exc:
            raise EditingError(str(exc), retryable=False, error_class="refused") from exc
        return EditOutcome(image=edited, plan=described)

    def read(self, prompt: str) -> EditPlan:
        if self.reader is not None:
            try:
                return self.reader.read(prompt)
            except NotPossible as exc:
                logger.info(
                    "%s found no plan (%s); the rules read the prompt", self.reader.name, exc
                )
            except Exception as exc:  # an LLM error or an invalid plan: the rules are the fallback
                logger.warning(
                    "%s could not read the prompt as a plan (%s); the rules read it",
                    self.reader.name,
                    exc,
                )
        try:
            return parse_prompt(prompt)
        except PromptNotUnderstood as exc:
            raise EditingError(str(exc), retryable=False, error_class="invalid_prompt") from exc

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
