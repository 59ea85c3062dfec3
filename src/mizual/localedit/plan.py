"""An edit plan: the ordered operations a prompt was read as."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the words of the prompt this step was read from

    def describe(self) -> dict[str, Any]:
        return {"operation": self.operation, "params": self.params, "from": self.source}


@dataclass(frozen=True)
class EditPlan:
    steps: tuple[Step, ...]

    def describe(self) -> list[dict[str, Any]]:
        return [step.describe() for step in self.steps]
