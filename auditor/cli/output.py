"""What the CLI prints: short progress lines on stderr, results on stdout."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import click

from auditor.names import HTML_NAME, PDF_NAME, RECORD_NAME

if TYPE_CHECKING:
    from auditor.profile import DeploymentProfile
    from auditor.report.document import ReportResult

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional and invisible format
# characters, lone surrogates (undecodable file names) and tag characters
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\U000e0000-\U000e007f]"
)


def escaped(value: object) -> str:
    """`value` as text with every control or invisible format character written as its escape
    (`\\n`, `\\x1b`, `\\u202e`): a name or reason read from a file or a certificate can then
    neither start a line of its own nor steer the terminal."""
    return _HIDDEN.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), str(value))


def progress_printer() -> Callable[[str], None]:
    """A progress callback printing `[  1.2s] step` lines on stderr."""
    start = time.perf_counter()

    def show(step: str) -> None:
        click.echo(f"[{time.perf_counter() - start:5.1f}s] {escaped(step)}", err=True)

    return show


def print_result(result: ReportResult) -> None:
    """The decision in one line, then where the report is."""
    from auditor.report.quantities import score_percent, threshold_percent

    decision = result.record.decision
    score = score_percent(decision.predicted_probability, decision.threshold, fewest_digits=1)  # stays on its side
    scores = f"{escaped(decision.predicted_class)} ({score}, threshold {threshold_percent(decision.threshold)})"
    if decision.flagged:
        click.echo(f"FLAGGED: {scores}; a person must review this decision")
    else:
        click.echo(f"not flagged: {scores}")
    state = "signed report" if result.signed else "UNSIGNED DRAFT"
    click.echo(f"{state}: {escaped(result.folder / PDF_NAME)}  (also {HTML_NAME}, {RECORD_NAME})")


def check_label(text: str, what: str, limit: int | None = None) -> None:
    """A usage error when `text` cannot go into a detection or a record (a control character, too long)."""
    from auditor.scan.detections import MAX_LABEL_CHARS, shown, text_problem

    problem = text_problem(text, limit or MAX_LABEL_CHARS)
    if problem is not None:
        raise click.BadParameter(f"{shown(text)} {problem}", param_hint=what)


def label_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: `check_label` for an option's value."""
    if value is not None:
        check_label(value, f"--{(param.name or '').replace('_', '-')}")
    return value


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, unit: str) -> Iterator:
    """A rich progress bar on a terminal; nothing otherwise. Yields `update(done, found)`."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TextColumn("{task.fields[found]}"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, found="")
        yield lambda done, found: bar.update(task, completed=done, found=found)


def class_names(classes: str | None) -> list[str] | None:
    """The --classes option (comma-separated) as a list of names, or None when not given."""
    return [name.strip() for name in classes.split(",")] if classes else None


F = TypeVar("F", bound=Callable[..., object])


def language_option(command: F) -> F:
    """`--language CODE`: the language of the report, which beats the profile's report_language."""
    return click.option(
        "--language", "language", metavar="CODE",
        help="Language of the report (en, de, fr, or any shipped catalog); default: the profile's report_language.",
    )(command)


def in_language(profile: DeploymentProfile, language: str | None) -> DeploymentProfile:
    """`profile`, set to write its reports in `language` when one is given (checked: a user error otherwise)."""
    from auditor.i18n import check_language

    if language is None:
        return profile
    return profile.model_copy(update={"report_language": check_language(language)})
