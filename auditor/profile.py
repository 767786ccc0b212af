"""Deployment profile: the legal and organisational facts an operator writes once in TOML.

Every field is optional. A field the profile leaves out is shown as "not provided" in each
report and listed in its completeness section; it is never dropped. See
`examples/deployment-profile.toml` for a commented example.

The profile file may also name the operator's own templates (`templates_dir`), a witness
folder for ledger checkpoints (`witness_dir`) and a timestamp authority (`tsa_url`, an http(s)
URL; `--tsa-url` overrides it). These settings belong to the machine, not to the report: it is returned beside the profile by
`read_profile` and never enters an evidence record, so a record can never choose the code that
renders it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auditor.errors import ReportError, first_problem
from auditor.i18n import available as available_languages


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Section):
    """How long each kind of data is kept, and when it is deleted (checklist item 21)."""

    clip: str | None = None
    report: str | None = None
    logs: str | None = None


class Redress(_Section):
    """How the person concerned obtains human intervention and contests (checklist item 18)."""

    contact: str | None = None
    channel: str | None = None
    time_limit: str | None = None


class SupervisoryAuthority(_Section):
    """Where the person concerned may lodge a complaint (GDPR Art. 77): its name and how to reach it."""

    name: str | None = None
    contact: str | None = None


class DeploymentProfile(_Section):
    """Who runs the system, why, on which legal basis, and how people can contest."""

    profile_name: str | None = None
    controller: str | None = None
    dpo_contact: str | None = None
    record_of_processing: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    art22_position: str | None = None
    ai_act_classification: str | None = None
    dpia_reference: str | None = None
    source_id: str | None = None
    data_minimisation: str | None = None
    significance: str | None = None
    withheld: str | None = None
    recipients: list[str] | None = None
    access_control: str | None = None
    second_verifier_required: bool | None = None
    review_deadline_hours: float | None = Field(None, gt=0, le=100_000)  # a flagged report is reviewed within this
    mask_faces: bool = True  # blur the faces OpenCV finds in every image of the report (data minimisation)
    retention: Retention = Field(default_factory=Retention)
    redress: Redress = Field(default_factory=Redress)
    supervisory_authority: SupervisoryAuthority = Field(default_factory=SupervisoryAuthority)
    report_language: str = "en"

    @model_validator(mode="before")
    @classmethod
    def _ignore_templates_dir(cls, data: Any) -> Any:
        """Records written before 0.2 carried the operator's `templates_dir`: read, never used."""
        if isinstance(data, dict) and "templates_dir" in data:
            return {key: value for key, value in data.items() if key != "templates_dir"}
        return data


_MAX_URL = 2000


@dataclass(frozen=True)
class ProfileFile:
    """A deployment profile as read from the operator's disk, with the operator's own settings."""

    profile: DeploymentProfile
    templates_dir: Path | None = None
    witness_dir: Path | None = None  # receives a copy of every ledger checkpoint (auditor.archive.checkpoint)
    tsa_url: str | None = None  # RFC 3161 timestamp authority for seals, reviews, submissions and checkpoints


def load_profile(path: Path) -> DeploymentProfile:
    """The deployment profile in a TOML file (see `read_profile`)."""
    return read_profile(path).profile


def read_profile(path: Path) -> ProfileFile:
    """Read a deployment profile from TOML; raise ReportError saying which field is wrong.

    A relative `templates_dir` or `witness_dir` is taken relative to the profile file's folder.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"deployment profile {path} does not exist; check the path") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"deployment profile {path} is not valid TOML ({exc}); fix the file") from exc
    templates, witness = (_folder_setting(path, data, name) for name in ("templates_dir", "witness_dir"))
    tsa_url = _url_setting(path, data, "tsa_url")
    try:
        profile = DeploymentProfile.model_validate(data)
    except ValidationError as exc:
        raise ReportError(
            f"deployment profile {path}: {first_problem(exc, 'profile')}; "
            "compare with examples/deployment-profile.toml"
        ) from exc
    if profile.report_language not in available_languages():
        raise ReportError(
            f"deployment profile {path}: report_language {profile.report_language!r} has no catalog; "
            f"choose one of {', '.join(available_languages())}"
        )
    return ProfileFile(profile, templates, witness, tsa_url)


def _url_setting(path: Path, data: dict[str, Any], name: str) -> str | None:
    """A machine setting of the profile file (an http(s) URL), taken out of `data`: never a report fact."""
    value = data.pop(name, None)
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > _MAX_URL:
        raise ReportError(f"deployment profile {path}: {name} must be an http:// or https:// URL in quotes")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ReportError(f"deployment profile {path}: {name} holds a space or control character; give the URL alone")
    return value


def _folder_setting(path: Path, data: dict[str, Any], name: str) -> Path | None:
    """A machine setting of the profile file (a folder), taken out of `data`: never a report fact."""
    value = data.pop(name, None)
    if value is not None and not isinstance(value, str):
        raise ReportError(f"deployment profile {path}: {name} must be a folder path in quotes")
    return (path.parent / value).resolve() if value else None
