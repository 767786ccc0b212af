"""`auditor demo`: the demo detector on a generated incident clip, into a signed report."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.output import language_option, print_result, progress_printer
from auditor.demo_settings import CLASS_NAMES, DEMO_LABEL, DEMO_SEED


@click.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("demo-output"), show_default=True,
              help="Folder for the clip, the throwaway keys and the report.")
@click.option("--label", type=click.Choice(CLASS_NAMES), default=DEMO_LABEL, show_default=True,
              help="Kind of synthetic incident to generate.")
@click.option("--seed", type=int, default=DEMO_SEED, show_default=True, help="Seed of the generated clip.")
@click.option("--no-sign", is_flag=True, help="Write an UNSIGNED DRAFT instead of a sealed report.")
@click.option("--overwrite", is_flag=True, help="Replace the contents of a non-empty --out folder.")
@language_option
def demo(out: Path, label: str, seed: int, no_sign: bool, overwrite: bool, language: str | None) -> None:
    """Run the demo detector on a generated incident clip and write a signed report."""
    from auditor.demo import run_demo

    result = run_demo(out, label=label, seed=seed, sign=not no_sign, overwrite=overwrite, progress=progress_printer(),
                      language=language)
    print_result(result)
    if result.signed:
        click.echo(f"check it:  auditor verify {result.folder} --trust {out / 'demo-keys' / 'root.cert.pem'}")


COMMANDS = [demo]
