"""What the desk's pages show, as plain values for the templates: the queue's rows with their
filters and order, and a report's page (summary, trust facts, clip, decisions so far, or none of
them for a blind second review). Every value comes from a verified report folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.desk.files import manifest_of
from auditor.desk.queue import QueueItem
from auditor.evidence import EvidenceRecord
from auditor.report import narrative, narrative_trust, quantities
from auditor.review.model import ReviewRecord
from auditor.review.state import STATUSES

OPEN = frozenset({"awaiting review", "overdue", "awaiting second review", "disagreement", "escalated"})  # await a person
SORTS = {
    "urgency": None,  # the queue's own order: status, then due time
    "time": lambda r: (r.created or "", r.name),
    "score": lambda r: (-r.score, r.name),
    "camera": lambda r: (r.camera, r.name),
    "class": lambda r: (r.predicted_class, r.name),
}
THUMBNAIL_KINDS = ("gradcam", "persons", "saliency")  # pictures of a frame, faces masked, in this preference


@dataclass(frozen=True)
class Row:
    """One report as the queue lists it."""

    name: str  # the report folder's name under OUT/reports
    report_id: str
    status: str
    due: str | None
    predicted_class: str
    score: float
    score_text: str  # the score as a percentage that stays on its side of the alert threshold
    threshold_text: str
    camera: str
    created: str | None
    thumbnail: str | None  # a picture the manifest lists, by its manifest name
    problem: str | None
    reviewable: bool  # the report verifies and awaits a person


def row(item: QueueItem) -> Row:
    record = item.record
    return Row(
        name=item.folder.name, report_id=item.report_id, status=item.state.status,
        due=f"{item.state.due:%Y-%m-%d %H:%M}" if item.state.due else None, predicted_class=item.predicted_class,
        score=item.score, score_text=quantities.score_percent(item.score, record.decision.threshold) if record else "–",
        threshold_text=quantities.threshold_percent(record.decision.threshold) if record else "–", camera=camera(record), created=f"{item.created_at:%Y-%m-%d %H:%M}" if item.created_at else None,
        thumbnail=thumbnail(item) if record is not None and item.problem is None else None,
        problem=item.problem, reviewable=reviewable(item),
    )


def camera(record: EvidenceRecord | None) -> str:
    """The camera or source of the recording, as the record names it ("" when it names none)."""
    if record is None:
        return ""
    return record.input.source_id or record.deployment.source_id or ""


def thumbnail(item: QueueItem) -> str | None:
    """The picture of the first key frame (masked as every picture of the report), if listed."""
    record = item.record
    if record is None:
        return None
    manifest = manifest_of(item.folder)
    listed = {entry.path for entry in manifest.files} if manifest is not None else set()
    images = [i for i in record.explanations.images if i.path in listed]
    key = record.explanations.key_frames[0] if record.explanations.key_frames else 0
    for kind in THUMBNAIL_KINDS:
        found = [i for i in images if i.kind == kind]
        chosen = next((i for i in found if i.frame == key), found[0] if found else None)
        if chosen is not None:
            return chosen.path
    return None


def reviewable(item: QueueItem) -> bool:
    """Whether a decision may be recorded: the report verifies, and its status awaits one."""
    return item.problem is None and item.record is not None and item.state.status in OPEN


def awaits(item: QueueItem, fingerprint: str | None) -> bool:
    """Whether the report awaits the reviewer whose certificate has `fingerprint`: reviewable, and
    not already decided on by them (the second verifier must be another person)."""
    return reviewable(item) and all(r.certificate_sha256 != fingerprint for r in item.state.reviews)


def blind(item: QueueItem, fingerprint: str | None) -> bool:
    """Whether earlier decisions stay hidden: a second verifier is required, a first decision
    exists, and the person at the desk has not decided yet."""
    return (
        item.state.second_verifier_required and bool(item.state.reviews) and item.state.status in OPEN
        and all(r.certificate_sha256 != fingerprint for r in item.state.reviews)
    )


def next_report(items: Sequence[QueueItem], fingerprint: str | None, after: str) -> str | None:
    """The first report after `after` in queue order (then from the top) that awaits this reviewer."""
    names = [i.folder.name for i in items]
    start = names.index(after) + 1 if after in names else 0
    for item in [*items[start:], *items[:start]]:
        if item.folder.name != after and awaits(item, fingerprint):
            return item.folder.name
    return None


def shown_rows(items: Sequence[QueueItem], query: Mapping[str, str]) -> list[Row]:
    """The queue's rows under the filters (status, camera, class) and order (sort) of `query`."""
    rows = [row(item) for item in items]
    for key, attribute in (("status", "status"), ("camera", "camera"), ("class", "predicted_class")):
        if query.get(key):
            rows = [r for r in rows if getattr(r, attribute) == query[key]]
    order = SORTS.get(query.get("sort", ""))
    return sorted(rows, key=order) if order is not None else rows


def filter_choices(items: Sequence[QueueItem]) -> dict[str, list[str]]:
    """The values each filter offers: every status, and the cameras and classes the batch holds."""
    rows = [row(item) for item in items]
    return {
        "status": list(STATUSES),
        "camera": sorted({r.camera for r in rows if r.camera}),
        "class": sorted({r.predicted_class for r in rows if r.predicted_class}),
    }


def summary(record: EvidenceRecord) -> dict[str, Any]:
    """Page 1 of the report in sentences (the same functions the report's templates call)."""
    return {
        "headline": narrative.headline(record),
        "role": narrative.role_of_system(record),
        "flagged": narrative.what_was_flagged(record),
        "how_sure": narrative.how_sure(record),
        "attention": narrative.attention_summary(record),
        "task": narrative.reviewer_task(record),
        "due": narrative.review_due(record),
        "trust": narrative_trust.summary_sentences(record),
    }


def trust_facts(record: EvidenceRecord, anchors: str) -> list[tuple[str, str]]:
    """The trust section: what the seal and the record state, and what the desk verified."""
    seal = record.seal
    return [
        ("Verified", f"seal, manifest and every signed revision verify under {anchors}"),
        ("Sealed by", seal.signer or "not sealed"),
        ("Certificate SHA-256", seal.certificate_sha256 or "-"),
        ("Report", f"{record.report.report_id}, made {record.report.created_at:%Y-%m-%d %H:%M} UTC by "
                   f"{record.report.generator} {record.report.generator_version}"),
        ("Model", f"{record.model.name} {record.model.version}"),
        ("Explained class", f"{record.decision.explained_class} ({record.explanations.target_layer})"),
    ]


def clip_view(record: EvidenceRecord) -> dict[str, Any] | None:
    """The clip and its heatmap version with the key frames' times, when the report carries them."""
    clip = record.clip
    if clip is None:
        return None
    duration = max(float(clip.duration_seconds), 1e-6)
    return {
        "plain": clip.path, "heatmap": clip.heatmap_path, "duration": duration, "faces_masked": clip.faces_masked,
        "source": clip.source_file, "source_window": clip.source_start_seconds + clip.window_start_seconds,
        "source_start": clip.source_start_seconds,
        "window": (clip.window_start_seconds, clip.window_end_seconds),
        "window_share": (100 * clip.window_start_seconds / duration, 100 * clip.window_end_seconds / duration),
        "markers": [
            {"seconds": k.seconds, "share": 100 * k.seconds / duration, "label": f"key frame {k.position + 1}"}
            for k in clip.key_frames
        ],
    }


def decisions(reviews: Sequence[ReviewRecord]) -> list[dict[str, Any]]:
    """The decisions signed so far, in the order they were signed."""
    return [
        {"slot": r.slot, "decision": r.review.decision, "reviewer": r.review.reviewer, "role": r.review.role,
         "reasons": r.review.reasons, "signed_at": f"{r.signed_at:%Y-%m-%d %H:%M} UTC"}
        for r in reviews
    ]
