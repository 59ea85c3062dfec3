"""The docs match the code: variables, provider messages, the offline editor's examples."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from mizual.localedit.parser import PromptNotUnderstood, parse_prompt
from mizual.localedit.plan import CATALOGUE
from mizual.settings import VARIABLES, Settings

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
    """Every field's variable, and the other names (the reference's) some are read under."""
    names = {name.upper() for name in Settings.model_fields}
    assert names <= VARIABLES
    return set(VARIABLES)


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


LOCAL_EDITOR_DOC = CONFIGURATION_DOC.parent / "local-editor.md"
_OPERATION_ROW = re.compile(r"\| (\w+) \| (.*?) \| .* \|$")
_PICTURE_ROW = re.compile(r'\| "([^"]+)"[^|]*\| !\[\]\((images/[^)]+)\)')


def local_editor_examples() -> dict[str, list[str]]:
    """The operations table of docs/local-editor.md: operation → its quoted example prompts."""
    examples: dict[str, list[str]] = {}
    for line in LOCAL_EDITOR_DOC.read_text(encoding="utf-8").splitlines():
        match = _OPERATION_ROW.match(line)
        if match and match.group(1) in CATALOGUE:
            examples[match.group(1)] = re.findall(r'"([^"]+)"', match.group(2))
    return examples


def test_local_editor_doc_lists_every_operation_with_examples() -> None:
    examples = local_editor_examples()
    assert set(examples) == set(CATALOGUE)
    assert all(examples.values()), "every operation has an example prompt"


def test_every_example_prompt_in_the_local_editor_doc_does_what_it_says() -> None:
    for operation, prompts in local_editor_examples().items():
        for prompt in prompts:
            read_as = [step.operation for step in parse_prompt(prompt).steps]
            assert operation in read_as, f"{prompt!r} is read as {read_as}, not {operation}"


@pytest.mark.parametrize(
    "prompt",
    ["add a hat", "replace the sky with a sunset", "remove the person", "make him smile"],
)
def test_the_local_editor_doc_refusals_are_refused(prompt: str) -> None:
    assert f'"{prompt}"' in LOCAL_EDITOR_DOC.read_text(encoding="utf-8")
    with pytest.raises(PromptNotUnderstood):
        parse_prompt(prompt)


def rendered_examples() -> list[tuple[str, str, str]]:
    """EXAMPLES of scripts/local_editor_examples.py, the script that draws the pictures."""
    script = CONFIGURATION_DOC.parent.parent / "scripts" / "local_editor_examples.py"
    spec = importlib.util.spec_from_file_location("local_editor_examples", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    examples: list[tuple[str, str, str]] = module.EXAMPLES
    return examples


def test_before_and_after_pictures_exist_for_their_prompts() -> None:
    text = LOCAL_EDITOR_DOC.read_text(encoding="utf-8")
    pictures = _PICTURE_ROW.findall(text)
    assert len(pictures) >= 10
    rendered = {
        f"images/local-editor/{name}.jpg": prompt for name, _, prompt in rendered_examples()
    }
    for prompt, path in pictures:
        assert (LOCAL_EDITOR_DOC.parent / path).is_file(), f"{path} is missing"
        assert rendered.get(path) == prompt, f"{path} is not rendered from {prompt!r}"


SECURITY_DOC = CONFIGURATION_DOC.parent / "security.md"


def test_security_doc_names_only_real_variables() -> None:
    names = set(_VARIABLE.findall(SECURITY_DOC.read_text(encoding="utf-8")))
    settings_like = {name for name in names if "_" in name}
    assert settings_like - settings_variables() == set()


def test_security_doc_states_every_rate_limit() -> None:
    """Each rule's allowance appears in the doc's table, on the row of its endpoint."""
    from mizual.ratelimits import RULES, ResolvedRules

    rows = [line for line in SECURITY_DOC.read_text(encoding="utf-8").splitlines() if "|" in line]
    rules = ResolvedRules(Settings())
    endpoints = {
        "edit_daily": ("POST /edit-image/", "3 accepted edits a day"),
        "edit_burst": ("POST /edit-image/", "1 accepted edit every 10 seconds"),
        "edit_invalid": ("POST /edit-image/", "20 invalid requests a minute"),
        "status": ("GET /edit/{uuid}", "30 a minute"),
        "feedback": ("POST /feedback/", "5 a minute"),
        "feedback_lookup": ("GET /feedback/{uuid}", "10 a minute"),
        "chain": ("GET /chain/{uuid}", "10 a minute"),
        "celery_health": ("GET /health/celery", "10 a minute"),
        "debug_db_schema": ("/debug/db-schema", "5 a minute"),
        "debug_cache_stats": ("/debug/cache-stats", "5 a minute"),
        "debug_db_performance": ("/debug/db-performance", "3 a minute"),
    }
    assert set(endpoints) == {rule.name for rule in RULES.all()}
    for name, (endpoint, allowance) in endpoints.items():
        rule = rules[getattr(RULES, name)]
        assert allowance.split()[0] == str(rule.limit.amount), name
        assert any(endpoint in row and allowance in row for row in rows), name


ARCHITECTURE_DOC = CONFIGURATION_DOC.parent / "architecture.md"


def test_architecture_doc_maps_every_module() -> None:
    """The module map of docs/architecture.md names every module and package of src/mizual,
    and the doc describes no part as still to come."""
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    start = text.index("## Module map")
    block = text[text.index("```", start) + 3 : text.index("```", text.index("```", start) + 3)]
    named = {
        line.split()[0].removesuffix(".py").rstrip("/")
        for line in block.splitlines()
        if line[:1].isalpha()
    }
    package = Path(__file__).resolve().parent.parent / "src" / "mizual"
    modules = {
        path.stem if path.is_file() else path.name
        for path in package.iterdir()
        if (path.suffix == ".py" and not path.name.startswith("__"))
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert sorted(modules - named) == [], "not in the module map of docs/architecture.md"
    assert sorted(named - modules) == [], "in the module map but not in src/mizual"
    assert "*planned*" not in text
