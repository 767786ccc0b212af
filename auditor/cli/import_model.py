"""`auditor import-model`: convert a Keras 2 detector into a verified Keras 3 model."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.detector.sidecar import Preprocessing

PREPROCESSING_CHOICES = ("unit", "caffe", "tf", "torch")


@click.command("import-model")
@click.argument("legacy", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Keras 3 model file to write (.keras).")
@click.option("--weights", type=click.Path(path_type=Path),
              help="Weights .h5 file, when LEGACY is an architecture .json.")
@click.option("--classes", help="Comma-separated class names (overrides the legacy sidecar).")
@click.option("--preprocessing", type=click.Choice(PREPROCESSING_CHOICES),
              help="Input convention of the model (see auditor.detector.sidecar); default: legacy sidecar's, else unit.")
@click.option("--clip", type=click.Path(path_type=Path), help="A video whose first frames are also compared.")
@click.option("--tolerance", type=float, default=1e-5, show_default=True,
              help="Largest accepted |difference| of any model output.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random comparison clips.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def import_model(
    legacy: Path, out: Path, weights: Path | None, classes: str | None, preprocessing: Preprocessing | None,
    clip: Path | None, tolerance: float, seed: int, overwrite: bool,
) -> None:
    """Convert LEGACY (Keras 2 .h5, SavedModel folder, or .json with --weights) into a Keras 3 model.

    Both models run on the same clips; nothing is written unless their outputs agree within
    --tolerance. The sidecar beside --out records both files' SHA-256 and the largest difference.
    """
    from auditor.legacy import import_legacy_model

    result = import_legacy_model(
        legacy, out, weights=weights, class_names=classes.split(",") if classes else None,
        preprocessing=preprocessing, clip=clip, tolerance=tolerance, seed=seed, overwrite=overwrite,
    )
    click.echo(
        f"verified: largest output difference {result.max_abs_difference:.3g} (tolerance {result.tolerance:g})\n"
        f"model:    {result.model_path}\nsidecar:  {result.sidecar_path}"
    )


COMMANDS = [import_model]
