"""The record's trust sections (schema 2.3) from the checks' results: plain numbers, rounded, in
the order the checks produced them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np

from auditor.evidence.model import Note
from auditor.evidence.trust import (
    CounterfactualEdit,
    CounterfactualRecord,
    Curve,
    FaceMaskingRecord,
    FaithfulnessCurves,
    FaithfulnessRecord,
    MaskedFrame,
    MotionFrame,
    MotionRecord,
    PersonBox,
    PersonGroundingRecord,
    PersonRecord,
    PositionImage,
    RegionBlur,
    SanityMethod,
    SanityRecord,
)
from auditor.explain.counterfactual import CounterfactualSearch, pixels_key  # no TensorFlow
from auditor.explain.faithfulness import BORDER  # no TensorFlow
from auditor.names import ARRAYS_NAME

if TYPE_CHECKING:  # the checks' results are only read here; importing them would load TensorFlow
    from auditor.explain.checks import TrustChecks
    from auditor.explain.faithfulness import Curve as CurveResult
    from auditor.explain.faithfulness import Faithfulness
    from auditor.explain.motion import MotionRelevance
    from auditor.explain.persons import PersonGrounding
    from auditor.explain.sanity import SanityCheck
    from auditor.video.masking import FaceMasking


class TrustImagesLike(Protocol):
    """What `auditor.report.display_trust.TrustImages` provides: picture paths by key frame and by edit."""

    @property
    def motion(self) -> Mapping[int, str]: ...
    @property
    def counterfactuals(self) -> Sequence[str]: ...
    @property
    def persons(self) -> tuple[int, str] | None: ...


def _r(value: float) -> float:
    return round(float(value), 6)


NO_REGION_ANYWHERE = "motion.no_region_anywhere"  # codes of `MotionRecord.not_measurable` (2.7; sentences before)
SANITY_FAILS = "motion.sanity_fails"


def motion_record(motion: MotionRelevance, class_names: Sequence[str], target: int,
                  images: Mapping[int, str], sanity: SanityCheck | None = None) -> MotionRecord:
    """The motion section; a method whose maps carry no relevance, or fail the model-randomisation
    check, has no share (None) and the reason in `not_measurable`."""
    methods = sorted(motion.frame_shares)
    failing = {name for name, m in sanity.methods.items() if m.verdict == "fails"} if sanity is not None else set()
    reasons = {name: SANITY_FAILS for name in methods if name in failing}
    reasons |= {name: NO_REGION_ANYWHERE for name in methods if motion.overall_shares[name] is None}

    def share(name: str, value: float | None) -> float | None:
        return None if name in reasons or value is None or np.isnan(value) else _r(value)

    frames = []
    for t, probabilities in enumerate(np.asarray(motion.static_probabilities, dtype=np.float64)):
        frames.append(MotionFrame(
            position=t,
            motion_share={name: share(name, motion.frame_shares[name][t]) for name in methods},
            static_class=class_names[int(np.argmax(probabilities))],
            static_probability=_r(probabilities[target]),
        ))
    return MotionRecord(
        methods=methods,
        overall_share={name: share(name, motion.overall_shares[name]) for name in methods},
        frames=frames,
        images=[PositionImage(position=t, path=path) for t, path in sorted(images.items())],
        not_measurable=reasons,
    )


def counterfactual_record(search: CounterfactualSearch, class_names: Sequence[str], target: int,
                          images: Sequence[str]) -> CounterfactualRecord:
    """The search's record; region edit N points to its pixels, `pixels_key(N)` in `arrays.npz`."""
    found = []
    for number, item in enumerate(search.found):
        edit = item.edit
        found.append(CounterfactualEdit(
            kind=edit.kind,
            positions=[int(t) for t in edit.edited_positions()],
            replaced_by=[int(t) for t in edit.replaced_by] if edit.kind == "frames" else None,
            level=edit.level,
            edited_share=float(item.edited_share),  # unrounded: the mean of the stored pixels, exactly
            key_position=int(item.key_position),
            predicted_class=class_names[item.predicted_index],
            predicted_probability=_r(item.probabilities[item.predicted_index]),
            explained_probability=_r(item.probabilities[target]),
            flagged=bool(item.flagged),
            image=images[number] if number < len(images) else None,
            pixels=f"{ARRAYS_NAME}#{pixels_key(number + 1)}" if edit.kind == "region" else None,
        ))
    budget, blur = search.budget, search.blur
    return CounterfactualRecord(
        original_flagged=bool(search.original_flagged),
        found=found,
        candidates_tried=int(search.candidates_tried),
        budget={"max_frames": int(budget.max_frames or 0), "max_area": _r(budget.max_area),
                "max_candidates": int(budget.max_candidates)},
        blur=Note(code="spec.blur.gaussian",
                  params={"sigma": float(blur.sigma), "factor": int(blur.factor), "border": blur.border}),
        rescored_by=Note(code="spec.rescoring.keras_compiled"),
        region_blur=RegionBlur(sigma=float(blur.sigma), downscale=int(blur.factor), border=blur.border),
        model_input=Note(code="spec.model_input.counterfactuals"),
    )


def _curve(curve: CurveResult) -> Curve:
    return Curve(fractions=[_r(f) for f in curve.fractions], scores=[_r(s) for s in curve.scores], auc=_r(curve.auc))


def faithfulness_record(result: Faithfulness) -> FaithfulnessRecord:
    """The curves' record; each names the array its ordering ranks in `arrays.npz` (`map_<name>` or
    `frame_<name>`, as `auditor.evidence.store.raw_arrays` writes them) and the rule in full."""
    removal = (Note(code="spec.removal.gaussian", params={"sigma": float(result.blur_sigma)})
               if result.blur_sigma is not None else Note(code="spec.removal.mean_colour"))
    prefix = {"pixels": "map", "frames": "frame"}
    return FaithfulnessRecord(
        removal=removal,
        seeds=[int(s) for s in result.settings.seeds],
        original_score=_r(result.original_score),
        curves=[
            FaithfulnessCurves(
                ordering=c.ordering, unit=c.unit, deletion=_curve(c.deletion), insertion=_curve(c.insertion),
                random_deletion=_curve(c.random_deletion), random_insertion=_curve(c.random_insertion),
                values=f"{ARRAYS_NAME}#{prefix[c.unit]}_{c.ordering}", units=int(c.units),
                counts=[int(k) for k in c.counts], seeds=[int(s) for s in c.seeds],
                random_deletion_aucs=[_r(a) for a in c.random_deletion_aucs],
                random_insertion_aucs=[_r(a) for a in c.random_insertion_aucs],
            )
            for c in result.curves
        ],
        ranking=Note(code="spec.faithfulness.ranking"),
        blur_sigma=float(result.blur_sigma) if result.blur_sigma is not None else None,
        border=BORDER if result.blur_sigma is not None else None,
        model_input=Note(code="spec.model_input.faithfulness"),
    )


def sanity_record(check: SanityCheck) -> SanityRecord:
    return SanityRecord(
        model_sha256=check.model_sha256,
        layer=check.layer,
        randomised_layers=list(check.randomised_layers),
        reference_clips=Note(code="spec.sanity.synthetic_clips", params=dict(check.reference_clips)),
        seed=check.seed,
        threshold=check.threshold,
        methods=[
            SanityMethod(method=name, correlation=_r(m.correlation), abs_correlation=_r(m.abs_correlation),
                         verdict=m.verdict)
            for name, m in sorted(check.methods.items())
        ],
        computed_at=datetime.fromisoformat(check.computed_at),
        host=check.host,
        cache_file=str(check.cache_file) if check.cache_file is not None else None,
    )


def persons_record(grounding: PersonGrounding, image: tuple[int, str] | None = None) -> PersonGroundingRecord:
    persons = [
        PersonRecord(
            person_id=p.person_id,
            boxes=[PersonBox(position=t, box=[int(v) for v in box], share=_r(p.frame_shares[t]))
                   for t, box in sorted(p.boxes.items())],
            share=_r(p.share),
        )
        for p in grounding.persons
    ]
    width, height = grounding.window
    detector = Note(code="spec.persons.hog_default", params={"width": width, "height": height})
    return PersonGroundingRecord(detector=detector, positions=list(grounding.positions),
                                 upscale=_r(grounding.upscale), persons=persons,
                                 image=PositionImage(position=image[0], path=image[1]) if image else None)


def trust_sections(checks: TrustChecks, class_names: Sequence[str], target: int,
                   images: TrustImagesLike | None) -> dict[str, object]:
    """The `explanations` fields the checks fill (the ones that ran), with their pictures if drawn."""
    sections: dict[str, object] = {}
    if checks.motion is not None:
        sections["motion"] = motion_record(checks.motion, class_names, target, images.motion if images else {},
                                           checks.sanity)
    if checks.counterfactuals is not None:
        sections["counterfactuals"] = counterfactual_record(checks.counterfactuals, class_names, target,
                                                           images.counterfactuals if images else ())
    if checks.faithfulness is not None:
        sections["faithfulness"] = faithfulness_record(checks.faithfulness)
    if checks.sanity is not None:
        sections["sanity"] = sanity_record(checks.sanity)
    if checks.persons is not None:
        sections["persons"] = persons_record(checks.persons, images.persons if images else None)
    return sections


def masking_record(masking: FaceMasking | None) -> FaceMaskingRecord:
    """The faces masked in the report's images; None masking: switched off in the profile."""
    if masking is None:
        return FaceMaskingRecord(enabled=False, method=Note(code="spec.masking.none"))
    frames = [MaskedFrame(position=t, boxes=[list(map(int, box)) for box in boxes])
              for t, boxes in enumerate(masking.boxes) if boxes]
    frontal, profile = masking.cascades
    method = Note(code="spec.masking.haar_pixelate_blur", params={"frontal": frontal, "profile": profile})
    return FaceMaskingRecord(enabled=True, method=method, faces=masking.count, frames=frames)


CHECKS = ("motion", "counterfactuals", "faithfulness", "sanity", "persons")  # each has a limitation "limitation.<check>"


def trust_limitations(checks: TrustChecks | None, masking: FaceMaskingRecord | None) -> list[Note]:
    """What the checks that ran, and face masking where it ran, cannot show (checklist item 12)."""
    ran = [name for name in CHECKS if checks is not None and getattr(checks, name) is not None]
    masked = masking is not None and masking.enabled
    return [Note(code=f"limitation.{name}") for name in ran] + ([Note(code="limitation.face_masking")] if masked else [])
