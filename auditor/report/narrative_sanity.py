"""The model-randomisation check in words: its verdict per map method, the layers it reset (named
by block; the full list goes to the annex), and where its figures come from. The templates reach
these as `trust.NAME` (through `auditor.report.narrative_trust`)."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.evidence import EvidenceRecord
from auditor.evidence.trust import SanityMethod
from auditor.report.layer_names import NAMED_LAYERS, LayerGroup, layer_groups, layers_in_words

_METHOD_NAMES = {"gradcam": "Grad-CAM", "saliency": "saliency", "gradcam_share": "Grad-CAM share",
                 "occlusion": "frame occlusion", "gradient_x_input": "gradient × input"}


def method_name(name: str) -> str:
    return _METHOD_NAMES.get(name, name)


def sanity_sentence(record: EvidenceRecord) -> str:
    """The model-randomisation check's verdict, in words."""
    sanity = record.explanations.sanity
    if sanity is None:
        return "The model-randomisation check was not run for this model."
    passed = [m for m in sanity.methods if m.verdict == "passes"]
    failed = [m for m in sanity.methods if m.verdict != "passes"]
    parts = []
    if passed:
        parts.append(f"maps of {method_names(passed)} change (rank correlation {_figures(passed)} with the original maps): "
                     "they depend on what the model learned")
    if failed:
        parts.append(f"maps of {method_names(failed)} barely change (rank correlation {_figures(failed)}): they may show the "
                     "picture itself rather than what the model learned, so do not rely on them")
    return (f"The check resets the top of the model's per-frame image network to random values: "
            f"{randomised_words(record)}. After the reset, the " + "; the ".join(parts) + ".")


def randomised_words(record: EvidenceRecord) -> str:
    """The layers the model-randomisation check re-initialised, in words; the count and a pointer
    to the annex's list when the words do not name them all."""
    sanity = record.explanations.sanity
    assert sanity is not None
    layers = sanity.randomised_layers
    words = layers_in_words(layers)
    if any(g.block for g in layer_groups(layers)) or len(layers) > NAMED_LAYERS:
        return f"{words}, {len(layers)} layers in all, listed in the technical annex"
    return words


def randomised_groups(record: EvidenceRecord) -> list[LayerGroup]:
    """The re-initialised layers by block, bottom to top, for the annex (empty without the check)."""
    sanity = record.explanations.sanity
    return layer_groups(sanity.randomised_layers) if sanity is not None else []


def sanity_provenance(record: EvidenceRecord) -> str:
    """When and where the model-randomisation figures were computed, or which cache entry they were
    read from ("" when the check did not run)."""
    sanity = record.explanations.sanity
    if sanity is None:
        return ""
    when = f"{sanity.computed_at:%d %B %Y at %H:%M} UTC (seed {sanity.seed})"
    if sanity.host is None:  # records before schema 2.4
        return f"Computed once for this model on {sanity.computed_at:%d %B %Y} (seed {sanity.seed}); where is not recorded."
    if sanity.cache_file is None:
        return f"Computed for this report on {when} on host {sanity.host}."
    return (f"Computed for this model on {when}; these figures were read on host {sanity.host} from the cache file "
            f"{sanity.cache_file}, whose entry is authenticated with a key derived from this report's seal.")


def method_names(methods: Sequence[SanityMethod]) -> str:
    names = [method_name(m.method) for m in methods]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _figures(methods: Sequence[SanityMethod]) -> str:
    figures = [f"{m.abs_correlation:.2f}" for m in methods]
    return figures[0] if len(figures) == 1 else ", ".join(figures[:-1]) + f" and {figures[-1]}"
