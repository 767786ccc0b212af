"""The model-randomisation check in words: its verdict per map method, the layers it reset (named
by block; the full list goes to the annex), and where its figures come from, in the active
language. The templates reach these as `trust.NAME` (through `auditor.report.narrative_trust`)."""

from __future__ import annotations

from collections.abc import Sequence

from auditor import i18n
from auditor.evidence import EvidenceRecord
from auditor.evidence.trust import SanityMethod
from auditor.i18n import _
from auditor.report.layer_names import NAMED_LAYERS, LayerGroup, layer_groups, layers_in_words
from auditor.report.narrative_attention import term


def method_name(name: str) -> str:
    """A method's name inside a sentence, from its descriptor (its term, translated)."""
    return term(name)


def sanity_sentence(record: EvidenceRecord) -> str:
    """The model-randomisation check's verdict, in words."""
    sanity = record.explanations.sanity
    if sanity is None:
        return _("The model-randomisation check was not run for this model.")
    passed = [m for m in sanity.methods if m.verdict == "passes"]
    failed = [m for m in sanity.methods if m.verdict != "passes"]
    values = {"layers": randomised_words(record), "passed": method_names(passed), "passed_figures": _figures(passed),
              "failed": method_names(failed), "failed_figures": _figures(failed)}
    if passed and failed:
        # TRANSLATORS: %(layers)s names the reset layers ("its last 9 blocks (block_8 to block_16)"); %(passed)s and
        # %(failed)s list method names; the figures are rank correlations ("0.12 and 0.34").
        return _("The check resets the top of the model's per-frame image network to random values: %(layers)s. After "
                 "the reset, the maps of %(passed)s change (rank correlation %(passed_figures)s with the original "
                 "maps): they depend on what the model learned; the maps of %(failed)s barely change (rank "
                 "correlation %(failed_figures)s): they may show the picture itself rather than what the model "
                 "learned, so do not rely on them.") % values
    if passed:
        return _("The check resets the top of the model's per-frame image network to random values: %(layers)s. After "
                 "the reset, the maps of %(passed)s change (rank correlation %(passed_figures)s with the original "
                 "maps): they depend on what the model learned.") % values
    return _("The check resets the top of the model's per-frame image network to random values: %(layers)s. After the "
             "reset, the maps of %(failed)s barely change (rank correlation %(failed_figures)s): they may show the "
             "picture itself rather than what the model learned, so do not rely on them.") % values


def randomised_words(record: EvidenceRecord) -> str:
    """The layers the model-randomisation check re-initialised, in words; the count and a pointer
    to the annex's list when the words do not name them all."""
    sanity = record.explanations.sanity
    assert sanity is not None
    layers = sanity.randomised_layers
    words = layers_in_words(layers)
    if any(g.block for g in layer_groups(layers)) or len(layers) > NAMED_LAYERS:
        # TRANSLATORS: %(layers)s names the layers ("its last 9 blocks (block_8 to block_16)").
        return _("%(layers)s, %(count)d layers in all, listed in the technical annex") % {
            "layers": words, "count": len(layers)}
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
    values = {"date": i18n.date(sanity.computed_at), "time": i18n.time(sanity.computed_at), "seed": sanity.seed,
              "host": sanity.host or "", "file": sanity.cache_file or ""}
    if sanity.host is None:  # records before schema 2.4
        return _("Computed once for this model on %(date)s (seed %(seed)d); where is not recorded.") % values
    if sanity.cache_file is None:
        return _("Computed for this report on %(date)s at %(time)s UTC (seed %(seed)d) on host %(host)s.") % values
    return _("Computed for this model on %(date)s at %(time)s UTC (seed %(seed)d); these figures were read on host "
             "%(host)s from the cache file %(file)s, whose entry is authenticated with a key derived from this "
             "report's seal.") % values


def method_names(methods: Sequence[SanityMethod]) -> str:
    """'Grad-CAM and saliency', as the language lists them."""
    return i18n.listing(method_name(m.method) for m in methods)


def _figures(methods: Sequence[SanityMethod]) -> str:
    return i18n.listing(i18n.number(m.abs_correlation, 2) for m in methods)
