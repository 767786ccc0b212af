"""Deployment profile: TOML loading, clear errors, and the commented example."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import ReportError
from auditor.profile import DeploymentProfile, load_profile, read_profile

EXAMPLE = Path(__file__).parents[1] / "examples" / "deployment-profile.toml"


def _unset(model: object, prefix: str = "") -> list[str]:
    missing = []
    for name, value in model:  # pydantic models iterate as (field, value)
        if hasattr(value, "model_fields"):
            missing += _unset(value, f"{prefix}{name}.")
        elif value is None:
            missing.append(prefix + name)
    return missing


def test_example_profile_sets_every_legal_field() -> None:
    profile = load_profile(EXAMPLE)
    assert _unset(profile) == []
    assert profile.redress.time_limit.startswith("Within 30 days")
    assert profile.recipients == ["Station security team", "Data protection officer"]


def test_example_is_commented_for_each_field() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in DeploymentProfile.model_fields:
        assert "\n# " in text.split(name, 1)[0][-400:], f"{name} has no comment above it"


def test_empty_profile_leaves_fields_unset(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("", encoding="utf-8")
    profile = load_profile(path)
    assert profile == DeploymentProfile()
    assert "controller" in _unset(profile) and "redress.contact" in _unset(profile)


def test_relative_templates_dir_is_taken_from_the_profile_folder(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('templates_dir = "brand"\ncontroller = "C"\n', encoding="utf-8")
    loaded = read_profile(path)
    assert loaded.templates_dir == (tmp_path / "brand").resolve()
    assert loaded.profile.controller == "C"
    assert "templates_dir" not in loaded.profile.model_dump()  # never part of a record


def test_a_profile_that_carries_templates_dir_is_read_and_the_field_dropped() -> None:
    profile = DeploymentProfile.model_validate({"controller": "C", "templates_dir": "/tmp/evil"})
    assert profile.model_dump(exclude_defaults=True) == {"controller": "C"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("controler = 'typo'\n", "controler"),
        ("recipients = 'one'\n", "recipients"),
        ("[redress]\nemail = 'x'\n", "redress.email"),
        ("controller = \n", "not valid TOML"),
    ],
)
def test_bad_profile_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match=expected) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_missing_profile_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        load_profile(tmp_path / "absent.toml")
