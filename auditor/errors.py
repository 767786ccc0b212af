"""Typed errors. Every message says what is wrong and what to do about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class AuditorError(Exception):
    """Base class of every error a user can cause; the CLI prints it as one line."""

    exit_code = 2


class ModelError(AuditorError):
    """The model file or its sidecar cannot be used."""

    exit_code = 3


class VideoError(AuditorError):
    """The video cannot be read or holds too few frames."""

    exit_code = 4


class ReportError(AuditorError):
    """A record, profile or template cannot be rendered."""

    exit_code = 5


class SigningError(AuditorError):
    """A key, certificate or passphrase is unusable, or signing failed."""

    exit_code = 6


class ArchiveError(AuditorError):
    """Writing to, or reading from, the output or archive failed."""

    exit_code = 7


class IncompleteBatch(AuditorError):
    """A batch ended with detections not reported (failed, or cut short); running it again retries them."""

    exit_code = 9


def first_problem(exc: ValidationError, whole: str) -> str:
    """The first problem of a pydantic validation error as `field.path: message`.

    `whole` names the document, for a problem with all of it rather than one field.
    """
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    return f"{where}: {first['msg']}"
