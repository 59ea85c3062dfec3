"""The variables' names: every one Mizual reads, the reference's other names for some, and which
hold secrets (never quoted back)."""

from __future__ import annotations

from pydantic import AliasChoices

from mizual.settings.model import Settings

SECRET_FIELDS = {
    name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
}


def field_names(field: str) -> list[str]:
    """The variables that set a field, upper-case, the one that wins first."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [choice.upper() for choice in alias.choices if isinstance(choice, str)]
    return [field.upper()]


# Other names a variable is read under (the reference's), upper-case → its field.
ALIASES: dict[str, str] = {
    name: field
    for field in Settings.model_fields
    for name in field_names(field)
    if name != field.upper()
}

# Every variable Mizual reads, aliases included.
VARIABLES: frozenset[str] = frozenset(
    {field.upper() for field in Settings.model_fields} | set(ALIASES)
)
