"""The deletion and insertion curves in words: whether each map or frame ordering finds what the
decision depends on better than random orders, and how far beyond chance (schema 2.5), in the
active language. The templates reach these as `trust.NAME` (through `auditor.report.narrative_trust`).
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor import i18n
from auditor.evidence import EvidenceRecord
from auditor.evidence.trust import FaithfulnessCurves
from auditor.explain.methods import primary_map
from auditor.i18n import _, ngettext
from auditor.messages import N_
from auditor.report.narrative_attention import failed_sanity, term
from auditor.report.quantities import percent

QUOTED_FRACTION = 0.1  # the share of pixels the faithfulness sentence quotes
# What a curve removes, by the record's unit code.
_UNITS = {"pixels": N_("pixels"), "frames": N_("frames")}


def unit(code: str) -> str:
    """A curve's unit in words: 'pixels', 'frames' (an unknown code as it is)."""
    return _(_UNITS[code]) if code in _UNITS else code


def method_title(name: str) -> str:
    """The method's name to open a sentence or heading with: 'Saliency', 'Grad-CAM'."""
    text = term(name)
    return text[:1].upper() + text[1:]


def score_after(curve: FaithfulnessCurves, fraction: float, random: bool = False) -> float:
    source = curve.random_deletion if random else curve.deletion
    pairs = dict(zip(source.fractions, source.scores, strict=True))
    return pairs[min(pairs, key=lambda f: abs(f - fraction))]


def score_effect(before: float, after: float, label: str) -> str:
    """'drops the “fight” score from 97% to 41%', 'raises …', 'leaves … at 97%': what a change does to
    the label's score, as the shown percentages tell it."""
    values = {"label": label, "before": percent(before), "after": percent(after)}
    if values["after"] == values["before"]:
        # TRANSLATORS: the rest of a sentence that begins "Removing the 10% most relevant pixels …".
        return _("leaves the \u201c%(label)s\u201d score at %(after)s") % values
    if after < before:
        return _("drops the \u201c%(label)s\u201d score from %(before)s to %(after)s") % values
    return _("raises the \u201c%(label)s\u201d score from %(before)s to %(after)s") % values


def random_effect(before: float, after: float) -> str:
    """'drops it to 90%': what removing random pixels does to the same score."""
    values = {"after": percent(after)}
    if percent(after) == percent(before):
        # TRANSLATORS: the rest of "…; removing a random 10%", "it" being the score named before.
        return _("leaves it at %(after)s") % values
    return (_("drops it to %(after)s") if after < before else _("raises it to %(after)s")) % values


def quoted_curve(record: EvidenceRecord) -> FaithfulnessCurves | None:
    """The curve the sentences quote: the primary map's, else the first, of the orderings whose maps
    did not fail the model-randomisation check."""
    faith = record.explanations.faithfulness
    if faith is None or not faith.curves:
        return None
    trusted = [c for c in faith.curves if not failed_sanity(record, c.ordering)] or faith.curves
    return next((c for c in trusted if c.ordering == primary_map().name), trusted[0])


def faithfulness_summary(record: EvidenceRecord) -> str | None:
    """The one sentence on the primary map's deletion curve, with random pixels for comparison."""
    faith, curve = record.explanations.faithfulness, quoted_curve(record)
    if faith is None or curve is None:
        return None
    before = faith.original_score
    # TRANSLATORS: %(unit)s is "pixels" or "frames"; %(effect)s and %(random)s finish each half ("drops the … score
    # from 93% to 41%", "drops it to 90%").
    return _("Removing the %(share)s most relevant %(unit)s according to %(method)s %(effect)s; removing a random "
             "%(share)s %(random)s.") % {
        "share": percent(QUOTED_FRACTION), "unit": unit(curve.unit), "method": term(curve.ordering),
        "effect": score_effect(before, score_after(curve, QUOTED_FRACTION), record.explanations.target_class),
        "random": random_effect(before, score_after(curve, QUOTED_FRACTION, random=True))}


def faithfulness_sentences(record: EvidenceRecord) -> list[str]:
    """Per ordering: whether it finds what the decision depends on better than chance, and how far
    that comparison is beyond the spread of the random orders (schema 2.5)."""
    faith = record.explanations.faithfulness
    if faith is None:
        return [_("Deletion and insertion curves were not computed for this report.")]
    sentences = []
    for curve in faith.curves:
        verdict = _verdict(curve)
        precision = _precision(curve)
        # TRANSLATORS: a verdict on one method, then how precise the comparison with chance is.
        sentences.append(_("%(verdict)s; %(precision)s.") % {"verdict": verdict, "precision": precision}
                         if precision else _("%(verdict)s.") % {"verdict": verdict})
    return sentences


def _verdict(curve: FaithfulnessCurves) -> str:
    deletes = curve.deletion.auc < curve.random_deletion.auc
    inserts = curve.insertion.auc > curve.random_insertion.auc
    values = {"method": method_title(curve.ordering), "unit": unit(curve.unit)}
    if deletes and inserts:
        return _("%(method)s (%(unit)s): points at what the decision depends on better than chance") % values
    if deletes:
        return _("%(method)s (%(unit)s): partly: removing what it ranks first lowers the score faster than chance, "
                 "but revealing it first does not raise it faster") % values
    if inserts:
        return _("%(method)s (%(unit)s): partly: revealing what it ranks first raises the score faster than chance, "
                 "but removing it first does not lower it faster") % values
    return _("%(method)s (%(unit)s): does not point at what the decision depends on better than chance: read it "
             "with caution") % values


def random_spread(curve: FaithfulnessCurves) -> float | None:
    """How far the random orders' areas differ among themselves (max − min over seeds, the larger of
    deletion and insertion): the precision of a comparison with chance; None before 2.5."""
    if not curve.random_deletion_aucs or not curve.random_insertion_aucs:
        return None
    return max(max(a) - min(a) for a in (curve.random_deletion_aucs, curve.random_insertion_aucs))


def random_area(curve: FaithfulnessCurves, insertion: bool) -> str:
    """'0.81 (0.74–0.87)': the random orders' mean area and its range over the seeds."""
    mean = (curve.random_insertion if insertion else curve.random_deletion).auc
    aucs = curve.random_insertion_aucs if insertion else curve.random_deletion_aucs
    if aucs and len(aucs) > 1:
        return f"{i18n.number(mean, 2)} ({i18n.number(min(aucs), 2)}\u2013{i18n.number(max(aucs), 2)})"
    return i18n.number(mean, 2)


def random_orders(record: EvidenceRecord) -> str:
    """'2 random orders for pixels (seeds 0 and 1) and 3 for frames (seeds 0, 1 and 2)'."""
    faith = record.explanations.faithfulness
    if faith is None:
        return ""
    kinds = {curve.unit: curve.seeds for curve in faith.curves if curve.seeds}
    if not kinds:
        if not faith.seeds:
            return _("random orders")
        return _("random orders of seeds %(seeds)s") % {"seeds": _listed(faith.seeds)}
    orders = [_orders(seeds, code, first=i == 0) for i, (code, seeds) in enumerate(kinds.items())]
    return i18n.listing(orders)


def _orders(seeds: Sequence[int], code: str, first: bool) -> str:
    values = {"count": len(seeds), "unit": unit(code), "seeds": _listed(seeds)}
    if first:
        # TRANSLATORS: "2 random orders for pixels (seeds 0 and 1)"; %(unit)s is "pixels" or "frames".
        return ngettext("%(count)d random order for %(unit)s (seed %(seeds)s)",
                        "%(count)d random orders for %(unit)s (seeds %(seeds)s)", len(seeds)) % values
    # TRANSLATORS: follows "2 random orders for pixels (…) and": "3 for frames (seeds 0, 1 and 2)".
    return ngettext("%(count)d for %(unit)s (seed %(seeds)s)", "%(count)d for %(unit)s (seeds %(seeds)s)",
                    len(seeds)) % values


def _listed(values: Sequence[int]) -> str:
    return i18n.listing(str(v) for v in values)


def _area(value: float) -> str:
    return _("less than %(value)s") % {"value": i18n.number(0.01, 2)} if abs(value) < 0.005 else i18n.number(abs(value), 2)


def _precision(curve: FaithfulnessCurves) -> str:
    """'its areas differ from those of random orders by 0.75 (deletion) and 0.14 (insertion), random
    orders among themselves by up to 0.14; the smaller difference is within what chance alone
    varies' (empty before 2.5)."""
    spread = random_spread(curve)
    if spread is None:
        return ""
    if len(curve.random_deletion_aucs or ()) < 2:
        return _("one random order only, so how much chance alone varies is not known")
    gaps = (curve.random_deletion.auc - curve.deletion.auc, curve.insertion.auc - curve.random_insertion.auc)
    values = {"deletion": _area(gaps[0]), "insertion": _area(gaps[1]), "spread": _area(spread)}
    beyond = [abs(gap) > spread for gap in gaps]
    if all(beyond):
        return _("its areas differ from those of random orders by %(deletion)s (deletion) and %(insertion)s "
                 "(insertion), random orders among themselves by up to %(spread)s, so both differences exceed what "
                 "chance alone varies") % values
    if any(beyond):
        return _("its areas differ from those of random orders by %(deletion)s (deletion) and %(insertion)s "
                 "(insertion), random orders among themselves by up to %(spread)s; the smaller difference is within "
                 "what chance alone varies") % values
    return _("its areas differ from those of random orders by %(deletion)s (deletion) and %(insertion)s (insertion), "
             "random orders among themselves by up to %(spread)s; both differences are within what chance alone "
             "varies, so this verdict is not conclusive") % values
