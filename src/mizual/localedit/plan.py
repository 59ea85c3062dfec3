"""An edit plan: the ordered operations a prompt was read as, checked against the catalogue of
operations the offline editor can perform, with each parameter's type and range.

The catalogue (`CATALOGUE`, derived from each operation's declaration in `operations/`) is the
contract between the readers of a prompt (the rule parser, or an LLM asked for structured
output) and the operations: `validate_step` turns what a reader produced into a `Step` or says
exactly what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mizual.localedit.operations import CATALOGUE, REGIONAL
from mizual.localedit.parts import PARTS
from mizual.localedit.registry import InvalidPlan, Operation, Param

__all__ = ["CATALOGUE", "EditPlan", "InvalidPlan", "Operation", "Param", "Step", "validate_step"]


@dataclass(frozen=True)
class Step:
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the words of the prompt this step was read from
    region: str | None = None  # one of parts.PARTS ("faces", "top half"); None: everything

    def describe(self) -> dict[str, Any]:
        described = {"operation": self.operation, "params": self.params, "from": self.source}
        return described if self.region is None else described | {"region": self.region}


@dataclass(frozen=True)
class EditPlan:
    steps: tuple[Step, ...]
    read_by: str = "rules"  # the rule parser, or the LLM that read the prompt

    def describe(self) -> list[dict[str, Any]]:
        return [step.describe() | {"read_by": self.read_by} for step in self.steps]

    @property
    def subject_aware(self) -> bool:
        return any(CATALOGUE[step.operation].subject_aware for step in self.steps)


def validate_step(
    operation: str, params: dict[str, Any], source: str = "", *, region: str | None = None
) -> Step:
    """A step with every parameter present, typed and in range, on a part of the photo that
    it can apply to, or InvalidPlan saying why."""
    spec = CATALOGUE.get(operation)
    if spec is None:
        raise InvalidPlan(f"unknown operation {operation!r}")
    if region is not None and region not in PARTS:
        raise InvalidPlan(f"unknown part of the photo {region!r}")
    if region is not None and operation not in REGIONAL:
        raise InvalidPlan(f"{operation} applies to the whole photo, not to {region}")
    unknown = set(params) - set(spec.params)
    if unknown:
        raise InvalidPlan(f"{operation} takes no {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    for name, param in spec.params.items():
        value = params.get(name, param.default)
        if value is None:
            if param.optional:
                continue
            raise InvalidPlan(f"{operation} needs {name}")
        checked[name] = _check(operation, name, param, value)
    if spec.check is not None:
        spec.check(checked)
    return Step(operation, checked, source, region)


def _check(operation: str, name: str, param: Param, value: Any) -> float | int | str:
    if param.kind == "choice":
        if value not in param.choices:
            raise InvalidPlan(f"{operation} {name} must be one of {', '.join(param.choices)}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPlan(f"{operation} {name} must be a number")
    number: float | int = round(value) if param.kind == "int" else float(value)
    low, high = param.minimum, param.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidPlan(f"{operation} {name} must be between {low:g} and {high:g}")
    return number
