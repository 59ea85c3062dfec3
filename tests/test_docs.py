"""docs/configuration.md documents exactly the variables that Settings reads."""

from __future__ import annotations

import re
from pathlib import Path

from mizual.settings import Settings

CONFIGURATION_DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
_VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def documented_variables() -> set[str]:
    """Backticked UPPER_CASE names in the first column of the doc's table rows."""
    names: set[str] = set()
    for line in CONFIGURATION_DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        first_cell = line.split("|")[1].strip()
        match = _VARIABLE.fullmatch(first_cell)
        if match:
            names.add(match.group(1))
    return names


def settings_variables() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_every_setting_is_documented() -> None:
    text = CONFIGURATION_DOC.read_text(encoding="utf-8")
    assert [name for name in sorted(settings_variables()) if name not in text] == []
    missing = settings_variables() - documented_variables()
    assert not missing, f"not in a table of docs/configuration.md: {sorted(missing)}"


def test_doc_names_no_unknown_variable() -> None:
    unknown = documented_variables() - settings_variables()
    assert not unknown, f"docs/configuration.md names variables Settings lacks: {sorted(unknown)}"


PROVIDERS_DOC = CONFIGURATION_DOC.parent / "providers.md"


def test_providers_doc_quotes_every_flux_failure_message() -> None:
    from mizual.providers.editing import flux

    text = " ".join(PROVIDERS_DOC.read_text(encoding="utf-8").split())
    messages = {
        name: value
        for name, value in vars(flux).items()
        if name.isupper() and isinstance(value, str) and value.endswith(".") and " " in value
    }
    assert len(messages) >= 9
    missing = [name for name, message in messages.items() if message not in text]
    assert not missing, f"docs/providers.md lacks the message of {missing}"


def test_providers_doc_names_only_real_variables() -> None:
    names = set(_VARIABLE.findall(PROVIDERS_DOC.read_text(encoding="utf-8")))
    settings_like = {name for name in names if "_" in name and not name.startswith("HTTP")}
    assert settings_like - settings_variables() == set()
