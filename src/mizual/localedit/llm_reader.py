"""An LLM reads the prompt as an edit plan, in the catalogue's schema (structured output).

It understands phrasings no rule list foresees ("make it look like a faded Polaroid"), but its
answer is only trusted after `validate_step`; anything wrong with it (an error, a timeout, an
operation or a value outside the catalogue) hands the prompt back to the rule parser, which
stays the offline default.
"""

from __future__ import annotations

import logging
from typing import Any

from mizual.localedit.operations import REGIONAL
from mizual.localedit.parts import PARTS
from mizual.localedit.plan import CATALOGUE, EditPlan, InvalidPlan, validate_step
from mizual.providers.llm.chat import ChatModel, LlmError

logger = logging.getLogger(__name__)

MAX_STEPS = 8
WHOLE_PHOTO = "everything"  # the region of a step on the whole photo


class NotPossible(Exception):
    """The LLM says the request needs more than the catalogue (new content, say)."""


def plan_schema() -> dict[str, Any]:
    """The answer's JSON schema, in the subset both Gemini and OpenAI accept."""
    param_names: dict[str, str] = {}
    for operation in CATALOGUE.values():
        for name, param in operation.params.items():
            param_names[name] = "string" if param.kind == "choice" else "number"
    return {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "operation": {"type": "string", "enum": sorted(CATALOGUE)},
                        "params": {
                            "type": "object",
                            "properties": {
                                name: {"type": kind} for name, kind in sorted(param_names.items())
                            },
                        },
                        "region": {"type": "string", "enum": [WHOLE_PHOTO, *PARTS]},
                    },
                    "required": ["operation"],
                },
            },
            "not_possible": {"type": "string"},
        },
        "required": ["steps"],
    }


def _system_prompt() -> str:
    lines = [
        "You turn a photo-editing request into a plan for an offline editor that can only do "
        "the operations below, in order. Use the fewest steps that do what was asked; add "
        "nothing that was not asked for. Parameters left out take their defaults. If any part "
        "of the request needs something not listed (adding, removing or replacing objects, "
        "changing what is in the photo), answer no steps and say why in not_possible.",
        f"A step may apply to one part of the photo only (region: {', '.join(PARTS)}; "
        f"{WHOLE_PHOTO} by default), for these operations only: {', '.join(sorted(REGIONAL))}.",
        "Operations:",
    ]
    for name, operation in CATALOGUE.items():
        params = "; ".join(
            f"{param_name} ({_describe(param)})" for param_name, param in operation.params.items()
        )
        lines.append(f"- {name}: {operation.summary}" + (f". Params: {params}" if params else ""))
    return "\n".join(lines)


def _describe(param: Any) -> str:
    if param.kind == "choice":
        return " or ".join(param.choices)
    bounds = f"{param.minimum:g} to {param.maximum:g}"
    default = f", default {param.default}" if param.default is not None else ""
    return f"{param.kind} {bounds}{default}" + (f": {param.meaning}" if param.meaning else "")


class LlmPlanReader:
    def __init__(self, chat: ChatModel, *, timeout_seconds: float) -> None:
        self.chat = chat
        self.timeout_seconds = timeout_seconds
        self._system = _system_prompt()
        self._schema = plan_schema()

    @property
    def name(self) -> str:
        return self.chat.name

    def read(self, prompt: str) -> EditPlan:
        """The plan, or LlmError / InvalidPlan / NotPossible saying why there is none."""
        answer = self.chat.ask_json(
            system=self._system,
            text=f"Request: {prompt}",
            schema=self._schema,
            timeout=self.timeout_seconds,
        )
        raw_steps = answer.get("steps")
        if not isinstance(raw_steps, list):
            raise InvalidPlan("the answer has no list of steps")
        if not raw_steps:
            reason = answer.get("not_possible")
            raise NotPossible(str(reason) if reason else "no steps")
        if len(raw_steps) > MAX_STEPS:
            raise InvalidPlan(f"{len(raw_steps)} steps")
        steps = []
        for raw in raw_steps:
            if not isinstance(raw, dict) or not isinstance(raw.get("operation"), str):
                raise InvalidPlan("a step without an operation")
            params = raw.get("params") or {}
            if not isinstance(params, dict):
                raise InvalidPlan("params that are not an object")
            # Models fill every property of the schema; nulls mean "not given".
            given = {key: value for key, value in params.items() if value is not None}
            region = raw.get("region")
            if region in (None, "", WHOLE_PHOTO):
                region = None
            elif not isinstance(region, str):
                raise InvalidPlan("a region that is not a name")
            source = prompt.strip().lower()
            steps.append(validate_step(raw["operation"], given, source, region=region))
        return EditPlan(tuple(steps), read_by=self.chat.name)

    def close(self) -> None:
        self.chat.close()


__all__ = ["LlmError", "LlmPlanReader", "NotPossible", "plan_schema"]
