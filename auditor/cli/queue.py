"""`auditor queue`: the reports of a batch folder by review status, most urgent first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from auditor.cli.output import escaped
from auditor.review.state import STATUSES


@click.command("queue")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--status", "only", multiple=True, type=click.Choice(STATUSES),
              help="Show only reports in this status (repeatable).")
@click.option("--trust", type=click.Path(path_type=Path), default=None,
              help="Root certificate (PEM) or keys folder the reports must verify under (default: your keys folder's root).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable list on stdout.")
def queue_command(out: Path, only: tuple[str, ...], trust: Path | None, as_json: bool) -> None:
    """List the reports of a batch folder OUT by review status: report invalid, review file
    invalid, awaiting review, overdue (past the profile's review_deadline_hours), awaiting second
    review, disagreement, escalated, reviewed, overturned, no alert; and bring OUT/index.html up
    to date. Every report is verified first: only reviews that verify count."""
    from auditor.desk.index import refresh_index
    from auditor.desk.queue import review_queue, status_counts
    from auditor.desk.reviews import VerifiedFolders
    from auditor.verify import load_trust

    now = datetime.now(UTC)
    verified = VerifiedFolders(load_trust(trust))
    items = review_queue(out, verified, now)
    refresh_index(out, verified, now)
    shown = [item for item in items if not only or item.state.status in only]
    if as_json:
        click.echo(json.dumps({
            "counts": status_counts(items),
            "reports": [
                {"folder": str(i.folder), "report_id": i.report_id, "class": i.predicted_class, "score": i.score,
                 "created_at": i.created_at.isoformat() if i.created_at else None, "status": i.state.status,
                 "problem": i.problem, "due": i.state.due.isoformat() if i.state.due else None,
                 "decisions": [r.review.decision for r in i.state.reviews]}
                for i in shown
            ],
        }, indent=2))
        return
    counts = status_counts(items)
    click.echo(", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no reports")
    for item in shown:
        when = f"{item.created_at:%Y-%m-%d %H:%M}" if item.created_at else "-"
        line = f"{item.state.status:<22} {item.folder.name}  {item.predicted_class} {item.score:.0%}  {when}  {item.state.describe()}"
        click.echo(escaped(line + (f"  ({item.problem})" if item.problem else "")))

COMMANDS = [queue_command]
