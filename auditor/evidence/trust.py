"""The record's sections on how far the explanation can be trusted (schema 2.3): the part of the
decision resting on movement, what-if edits, deletion and insertion curves, the model-randomisation
check, the people the evidence lies on, and the faces masked in the report's images. Schema 2.4
adds where the model-randomisation figures were computed, or read from.

Each section is None in records before 2.3 and when the analysis was not run. From 2.7 the
computation specifications (how a check was computed) are `Note`s ("spec.…" codes, worded in full
by `auditor.report.spec_words`); older records hold English sentences there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.evidence.note import Note, Sentence
from auditor.names import PATH_SEGMENT, RELATIVE_PATH_PATTERN, RelativePath, Sha256

ARRAY_MEMBER = rf"^{PATH_SEGMENT}#[A-Za-z0-9_]+$"  # an array of a report file: "arrays.npz#key"
Spec = Note | Annotated[Sentence, Field(max_length=2000)]  # how something was computed: a "spec.…" code (2.7)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotionFrame(_Record):
    """One frame: the share of its relevance present only because of movement, per map method,
    and what the detector says of the static clip made of this frame alone."""

    position: int
    motion_share: dict[str, float | None]  # None: the frame's map carries no relevance (not measurable)
    static_class: str
    static_probability: float  # of the explained class


class PositionImage(_Record):
    position: int
    path: RelativePath


class MotionRecord(_Record):
    """Spatial vs motion relevance (Hiley et al. 2019, on Grad-CAM and saliency): the static clip
    of frame t repeats it T times; its map at position t is the spatial part of frame t's map, and
    the rest of the full clip's map is due to movement (DESIGN §2)."""

    methods: list[str]
    overall_share: dict[str, float | None]  # method -> share of the clip's relevance due to movement; None: not measurable
    frames: list[MotionFrame]
    not_measurable: dict[str, str] = Field(default_factory=dict)  # method -> why its map's share cannot be measured: "the <method> map …" (2.5)
    images: list[PositionImage] = Field(default_factory=list)  # key frames: held-still and movement maps


class CounterfactualEdit(_Record):
    """One what-if edit, re-applied on its own and re-scored before it was reported. Frames: each of
    `positions` replaced by the frame `replaced_by` names. Region (schema 2.5): the pixels of the
    array `pixels` names ((T, H, W) bool at the recorded size, exactly the pixels replaced) take the
    values of their frame blurred per the record's `region_blur`; `edited_share` is its mean."""

    kind: Literal["frames", "region"]
    positions: list[int]  # frames: the replaced frames; region: the frames whose pixels were blurred
    replaced_by: list[int] | None = None  # frames: the frame that replaced each of `positions`
    level: float | None = None  # region: where Grad-CAM reaches this share of each frame's own peak
    edited_share: float = Field(ge=0.0, le=1.0)  # share of the clip's frames (or pixels) edited
    key_position: int  # the frame the picture shows
    predicted_class: str
    predicted_probability: float
    explained_probability: float  # the explained class's probability after the edit
    flagged: bool
    image: str | None = Field(None, pattern=RELATIVE_PATH_PATTERN)  # original and edited key frame side by side
    pixels: str | None = Field(None, pattern=ARRAY_MEMBER)  # region, 2.5: "arrays.npz#<key>", the edited pixels


class RegionBlur(_Record):
    """How a region edit's replacement values were computed from each recorded frame (H, W, 3) uint8
    with OpenCV: with f = `downscale` > 1, cv2.resize to (round(W / f), round(H / f)) with INTER_AREA,
    cv2.GaussianBlur with ksize (0, 0), sigma `sigma` / f and `border`, cv2.resize back to (W, H)
    with INTER_LINEAR; with f = 1, cv2.GaussianBlur with `sigma` at full size."""

    sigma: float  # pixels of the recorded frame
    downscale: int = Field(ge=1)
    border: Literal["BORDER_REFLECT_101"]


class CounterfactualRecord(_Record):
    """The search for small edits that change the alert decision (checklist item 11)."""

    original_flagged: bool
    found: list[CounterfactualEdit]
    candidates_tried: int
    budget: dict[str, float | int]
    blur: Spec  # how a region was blurred: "spec.blur.gaussian" {sigma, factor, border}
    rescored_by: Spec = "the loaded model"  # what re-scored each reported edit, applied on its own
    region_blur: RegionBlur | None = None  # 2.5: the blur in full; None before
    model_input: Spec | None = None  # 2.5: how an edited recorded clip became the model's input


class Curve(_Record):
    fractions: list[float]
    scores: list[float]  # the explained class's probability after removing / revealing each fraction
    auc: float


class FaithfulnessCurves(_Record):
    """Deletion and insertion curves of one ordering, and of random orderings (mean over seeds).

    2.5: `values` names the array the ordering ranks, `counts` the units removed (deletion) or
    revealed (insertion) at each point, and the per-seed random AUCs give the comparison's precision."""

    ordering: str  # a map method or a frame-importance method
    unit: Literal["pixels", "frames"]
    deletion: Curve
    insertion: Curve
    random_deletion: Curve
    random_insertion: Curve
    values: str | None = Field(None, pattern=ARRAY_MEMBER)  # 2.5: "arrays.npz#map_gradcam", what is ranked
    units: int | None = Field(None, ge=1)  # 2.5: N, T·H·W pixels or T frames
    counts: list[int] | None = Field(None, max_length=64)  # 2.5: k = round(f·N) at each point, f the requested fraction
    seeds: list[int] | None = Field(None, max_length=32)  # 2.5: the random orderings' seeds
    random_deletion_aucs: list[float] | None = Field(None, max_length=32)  # 2.5: one per seed
    random_insertion_aucs: list[float] | None = Field(None, max_length=32)


class FaithfulnessRecord(_Record):
    """Deletion and insertion curves for this decision (DESIGN §2, "Faithfulness and sanity").

    2.5: `ranking`, `blur_sigma`, `border` and `model_input` state the rule in full, so that a point
    can be recomputed from `arrays.npz`, the video and the model."""

    removal: Spec  # how a pixel or frame was removed: "spec.removal.gaussian" {sigma} or ".mean_colour"
    seeds: list[int]  # the pixel curves' random seeds (2.5: each curve names its own)
    original_score: float
    curves: list[FaithfulnessCurves]
    ranking: Spec | None = None  # 2.5: how an ordering ranks units, and what a point removes
    blur_sigma: float | None = None  # 2.5: Gaussian sigma in pixels of the model-input frame; None: mean colour
    border: Literal["BORDER_REFLECT"] | None = None  # 2.5: the blur's border handling (OpenCV)
    model_input: Spec | None = None  # 2.5: which frames were edited


class SanityMethod(_Record):
    method: str
    correlation: float  # mean Spearman rank correlation of the original and randomised maps, per frame
    abs_correlation: float  # mean of its size (|ρ|): what the verdict compares with the threshold
    verdict: Literal["passes", "fails"]


class SanityRecord(_Record):
    """Model-randomisation check (Adebayo et al. 2018), computed once per model: when, on which
    machine, and whether its figures were read from a cache entry written under this report's seal."""

    model_sha256: Sha256
    layer: str
    randomised_layers: list[str]
    reference_clips: Spec  # "spec.sanity.synthetic_clips" {labels, seeds, frames, size, width, height}
    seed: int
    threshold: float
    methods: list[SanityMethod]
    computed_at: datetime
    host: str | None = None  # the machine that computed the figures, or read them from `cache_file`; None before 2.4
    cache_file: str | None = None  # the cache entry the figures were read from; None: computed for this report


class PersonBox(_Record):
    position: int
    box: list[int] = Field(min_length=4, max_length=4)  # x0, y0, x1, y1 in recorded pixels
    share: float  # share of the frame's Grad-CAM mass inside the box


class PersonRecord(_Record):
    person_id: int
    boxes: list[PersonBox]
    share: float  # over the frames where the person was detected


class PersonGroundingRecord(_Record):
    """Where the activation lies relative to the people OpenCV's HOG detector finds in the key frames."""

    detector: Spec  # "spec.persons.hog_default" {width, height}: the detection window
    positions: list[int]
    upscale: float
    persons: list[PersonRecord]
    image: PositionImage | None = None  # the key frame with the most people, their boxes drawn


class MaskedFrame(_Record):
    position: int
    boxes: list[list[int]]  # x0, y0, x1, y1 in recorded pixels


class FaceMaskingRecord(_Record):
    """Faces blurred in every image of the report (data minimisation, checklist item 7)."""

    enabled: bool
    method: Spec  # "spec.masking.haar_pixelate_blur" {frontal, profile} or "spec.masking.none"
    faces: int = 0
    frames: list[MaskedFrame] = Field(default_factory=list)
    explanation_input: Spec = Note(code="spec.masking.unmasked_input")
