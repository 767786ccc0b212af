"""What the CLI prints: short progress lines on stderr, results on stdout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from auditor.report_folder import HTML_NAME, PDF_NAME, RECORD_NAME

if TYPE_CHECKING:
    from auditor.report import ReportResult


def progress_printer() -> Callable[[str], None]:
    """A progress callback printing `[  1.2s] step` lines on stderr."""
    start = time.perf_counter()

    def show(step: str) -> None:
        click.echo(f"[{time.perf_counter() - start:5.1f}s] {step}", err=True)

    return show


def print_result(result: ReportResult) -> None:
    """The decision in one line, then where the report is."""
    decision = result.record.decision
    scores = f"{decision.predicted_class} ({decision.predicted_probability:.1%}, threshold {decision.threshold:.0%})"
    if decision.flagged:
        click.echo(f"FLAGGED: {scores}; a person must review this decision")
    else:
        click.echo(f"not flagged: {scores}")
    state = "signed report" if result.signed else "UNSIGNED DRAFT"
    click.echo(f"{state}: {result.folder / PDF_NAME}  (also {HTML_NAME}, {RECORD_NAME})")
