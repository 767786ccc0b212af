"""Typed errors. Every message says what is wrong and what to do about it."""


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
