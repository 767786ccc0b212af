"""Where the model looked, in words: runs of frames by the region of their strongest activation,
the key frames, and how the maps agree. The primary map (`explain.methods.primary_map`) is the one
that says where the attention lay; every sentence is derived from recorded values only, in the
active language (`auditor.i18n`). The templates reach these through `auditor.report.narrative`.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor import i18n
from auditor.evidence import EvidenceRecord, FrameSummary, MapSummary
from auditor.explain.methods import map_methods, method, primary_map
from auditor.i18n import _, ngettext
from auditor.messages import N_
from auditor.report.quantities import frame_span, percent, seconds, time_span

WEAK = 0.25  # a frame whose primary map's peak is below this share of the clip maximum counts as weak
NO_REGION = "none"  # the region of a frame whose map singles out no part of the image (no localisation)
WEAK_REGION = "weak"

# The ninths of a frame (`evidence.build.region_name`) as a sentence names them ("in … of the image").
_AREAS = {
    "upper-left": N_("the upper-left part"), "upper-centre": N_("the upper-centre part"),
    "upper-right": N_("the upper-right part"), "middle-left": N_("the middle-left part"), "centre": N_("the centre"),
    "middle-right": N_("the middle-right part"), "lower-left": N_("the lower-left part"),
    "lower-centre": N_("the lower-centre part"), "lower-right": N_("the lower-right part"),
}
# ... and as a key frame's caption names them ("peak upper-left").
_PEAKS = {
    "upper-left": N_("peak upper-left"), "upper-centre": N_("peak upper-centre"), "upper-right": N_("peak upper-right"),
    "middle-left": N_("peak middle-left"), "centre": N_("peak centre"), "middle-right": N_("peak middle-right"),
    "lower-left": N_("peak lower-left"), "lower-centre": N_("peak lower-centre"), "lower-right": N_("peak lower-right"),
}


def _primary() -> str:
    return primary_map().name


def term(name: str) -> str:
    """A method's name inside a sentence, translated (its descriptor's term); an unknown code as it is."""
    descriptor = method(name)
    return _(descriptor.term) if descriptor else name


def area(region: str) -> str:
    """'the centre', 'the upper-left part': a region code in words (an unknown code as it is)."""
    return _(_AREAS[region]) if region in _AREAS else region


@dataclass(frozen=True)
class FrameGroup:
    """Consecutive frames whose strongest activation lies in the same region."""

    first: FrameSummary
    last: FrameSummary
    region: str
    spread: float  # mean share of the frame above half the clip maximum
    frame_duration: float = 0.0  # seconds one sampled frame lasts (every / fps); 0 when unknown

    @property
    def frames(self) -> str:
        return frame_span(self.first.frame_index, self.last.frame_index)

    @property
    def times(self) -> str:
        """A single frame's time; a run from its first frame's start to its last frame's end."""
        if self.first.position == self.last.position:
            return seconds(self.first.timestamp)
        return time_span(self.first.timestamp, self.last.timestamp + self.frame_duration)


def frame_groups(record: EvidenceRecord, method_name: str | None = None) -> list[FrameGroup]:
    """Runs of consecutive frames sharing the region of their strongest activation (of the primary map
    unless `method_name` is given)."""
    name = method_name or _primary()
    clip = record.input
    interval = clip.end_seconds - clip.timestamps[-1]  # one sampling interval (0 before schema 2.1)
    duration = interval if interval > 0 else 1 / clip.fps if clip.fps else 0.0
    groups: list[FrameGroup] = []
    run: list[FrameSummary] = []
    for frame in record.explanations.frames:
        if run and _region(frame, name) != _region(run[0], name):
            groups.append(_group(run, name, duration))
            run = []
        run.append(frame)
    if run:
        groups.append(_group(run, name, duration))
    return groups


def _region(frame: FrameSummary, name: str) -> str:
    return _summary_region(frame.maps.get(name))


def _summary_region(summary: MapSummary | None) -> str:
    """The region of a map's peak; NO_REGION when the map singles out none (no localisation, as
    the record states), else WEAK_REGION when its peak is below WEAK of the clip's."""
    if summary is not None and not _localised(summary):
        return NO_REGION
    if summary is None or summary.peak_relative < WEAK:
        return WEAK_REGION
    return summary.region


def _localised(summary: MapSummary) -> bool:
    """Records before 2.1 do not say; their region is "none" only for a map of zeros."""
    return summary.localised is not False and summary.region != NO_REGION


def _group(run: list[FrameSummary], name: str, frame_duration: float) -> FrameGroup:
    spread = sum(f.maps[name].area_above_half for f in run if name in f.maps) / len(run)
    return FrameGroup(run[0], run[-1], _region(run[0], name), spread, frame_duration)


def failed_sanity(record: EvidenceRecord, name: str) -> bool:
    """Whether the maps of method `name` failed the model-randomisation check: they may show the picture
    rather than what the model learned, so the report shows them only in its annex, marked."""
    sanity = record.explanations.sanity
    return sanity is not None and any(m.method == name and m.verdict == "fails" for m in sanity.methods)


def primary_failed() -> str:
    """The sentence that replaces every account of where the model looked when the primary map failed."""
    return _("The %(method)s maps failed the model-randomisation check (they barely change when what the model "
             "learned is erased), so this report does not say where the model looked; they are shown only in "
             "the technical annex, marked as failed.") % {"method": term(_primary())}


def key_frames_pointer(record: EvidenceRecord) -> str:
    """Where to look next: the key frames, when at least one of them shows a localised map (words
    that hold in the HTML and on paper alike)."""
    if failed_sanity(record, _primary()):
        return ""
    keys = [record.explanations.frames[t] for t in record.explanations.key_frames]
    if any(_region(frame, _primary()) not in (NO_REGION, WEAK_REGION) for frame in keys):
        return _("The key frames, in the section after this summary, show where in each frame the model's attention "
                 "lay.")
    return _("No key frame shows a clear place where the model's attention lay; the heatmaps cannot point to one.")


def peak_words(summary: MapSummary) -> str:
    """A key frame's caption for its primary map, in the summary's terms: "peak upper-left",
    "weak activation" (no peak named) or "no localisation"."""
    region = _summary_region(summary)
    if region == NO_REGION:
        return _("no localisation")
    if region == WEAK_REGION:
        return _("weak activation")
    return _(_PEAKS[region]) if region in _PEAKS else region


def attention_sentences(record: EvidenceRecord) -> list[str]:
    """What the model looked at, in words: regions per run of frames, then the key frames."""
    if _primary() not in {m.name for m in record.explanations.methods}:
        return [_("No %(method)s map was recorded, so no region can be described.") % {"method": term(_primary())}]
    if failed_sanity(record, _primary()):
        return [primary_failed()]
    sentences = [_group_sentence(g) for g in frame_groups(record)]
    sentences.append(key_frame_sentence(record))
    agreement = saliency_agreement(record)
    if agreement:
        sentences.append(agreement)
    return sentences


def attention_summary(record: EvidenceRecord) -> str:
    """One sentence for the summary page: the region most key frames point to (on a tie, the one
    holding the strongest peak), and how many key frames point elsewhere, are weak, or show no
    localisation."""
    if failed_sanity(record, _primary()):
        return primary_failed()
    keys = [record.explanations.frames[t] for t in record.explanations.key_frames]
    regions = [_region(f, _primary()) for f in keys]
    strong = [r for r in regions if r not in (WEAK_REGION, NO_REGION)]
    weak, unlocalised = regions.count(WEAK_REGION), regions.count(NO_REGION)
    if weak == len(regions):
        return _("The model's activation was weak in every key frame; no region stands out.")
    if unlocalised == len(regions):
        return _("The %(method)s map showed no localisation in any key frame: no part of the image stands out.") % {
            "method": term(_primary())}
    if not strong:
        return _("No key frame points to a part of the image: in %(weak)d the model's activation was weak (below a "
                 "quarter of the clip's strongest) and in %(unlocalised)d the map showed no localisation.") % {
            "weak": weak, "unlocalised": unlocalised}
    peaks = {r: max(f.maps[_primary()].peak_relative for f, fr in zip(keys, regions, strict=True) if fr == r)
             for r in strong}
    region = max(peaks, key=lambda r: (strong.count(r), peaks[r]))
    values = {"count": strong.count(region), "total": len(regions), "area": area(region)}
    others = _other_key_frames(len(strong) - strong.count(region), weak, unlocalised)
    if not others:
        return _("In %(count)d of %(total)d key frames the model's strongest activation was in %(area)s of the "
                 "image.") % values
    # TRANSLATORS: %(others)s lists clauses such as "in 1 it lay elsewhere and in 2 it was weak (…)".
    return _("In %(count)d of %(total)d key frames the model's strongest activation was in %(area)s of the image; "
             "%(others)s.") % {**values, "others": others}


def _other_key_frames(elsewhere: int, weak: int, unlocalised: int) -> str:
    """'in 1 it lay elsewhere, in 1 it was weak (…) and in 1 the map showed no localisation'."""
    clauses = [
        # TRANSLATORS: one clause of a list, after "In 2 of 4 key frames the model's strongest activation was in …;".
        ngettext("in %(count)d it lay elsewhere", "in %(count)d it lay elsewhere", elsewhere) % {"count": elsewhere}
        if elsewhere else "",
        ngettext("in %(count)d it was weak (below a quarter of the clip's strongest)",
                 "in %(count)d it was weak (below a quarter of the clip's strongest)", weak) % {"count": weak}
        if weak else "",
        ngettext("in %(count)d the map showed no localisation", "in %(count)d the map showed no localisation",
                 unlocalised) % {"count": unlocalised} if unlocalised else "",
    ]
    present = [c for c in clauses if c]
    return i18n.listing(present) if present else ""


def _group_sentence(group: FrameGroup) -> str:
    values = {"frames": group.frames, "times": group.times}
    if group.region == WEAK_REGION:
        return _("In %(frames)s (%(times)s) the activation was weak (below a quarter of the clip's strongest).") % values
    if group.region == NO_REGION:
        return _("In %(frames)s (%(times)s) the %(method)s map showed no localisation: no part of the image stands "
                 "out.") % {**values, "method": term(_primary())}
    values["area"] = area(group.region)
    if group.spread < 0.1:
        return _("In %(frames)s (%(times)s) the strongest activation was in %(area)s of the image, concentrated in a "
                 "small area.") % values
    if group.spread < 0.3:
        return _("In %(frames)s (%(times)s) the strongest activation was in %(area)s of the image, spread over a "
                 "moderate area.") % values
    return _("In %(frames)s (%(times)s) the strongest activation was in %(area)s of the image, spread over a large "
             "part of the image.") % values


def key_frame_sentence(record: EvidenceRecord) -> str:
    """Which frames are the key frames and how much of the primary map's activation they hold, and
    how many of them show no localisation; when every frame holds the same share (or none), that no
    frame stands out."""
    explanations, name = record.explanations, _primary()
    keys = [explanations.frames[t] for t in explanations.key_frames]
    names = ", ".join(str(f.frame_index) for f in keys)
    maps = [f.maps[name] for f in explanations.frames if name in f.maps]
    values = {"method": term(name), "frames": names}
    if len({m.mass_share for m in maps}) == 1:
        if any(m.mass > 0 for m in maps):
            return _("Every frame holds the same share of the %(method)s activation, so no frame stands out: the key "
                     "frames (%(frames)s) hold no more than the others.") % values
        return _("Every frame holds no %(method)s activation, so no frame stands out: the key frames (%(frames)s) "
                 "hold no more than the others.") % values
    values["share"] = percent(sum(f.maps[name].mass_share for f in keys if name in f.maps))
    unlocalised = sum(_region(f, name) == NO_REGION for f in keys)
    if not unlocalised:
        return _("The frames with the most %(method)s activation (the key frames) are %(frames)s: together they hold "
                 "%(share)s of the clip's activation.") % values
    return ngettext(
        "The frames with the most %(method)s activation (the key frames) are %(frames)s: together they hold "
        "%(share)s of the clip's activation; in %(count)d of them the map shows no localisation.",
        "The frames with the most %(method)s activation (the key frames) are %(frames)s: together they hold "
        "%(share)s of the clip's activation; in %(count)d of them the map shows no localisation.",
        unlocalised) % {**values, "count": unlocalised}


def _compared_maps() -> tuple[str, str] | None:
    """The primary map and the map compared with it (the first other map method), by name."""
    others = [d.name for d in map_methods() if not d.primary]
    return (_primary(), others[0]) if others else None


def saliency_agreement(record: EvidenceRecord) -> str | None:
    """How often the pixel saliency peaks in the same region as the primary map on the key frames
    where both maps single out a region; nothing when either failed the model-randomisation check."""
    compared = _compared_maps()
    if compared is None or any(failed_sanity(record, name) for name in compared):
        return None
    first, second = compared
    frames = [record.explanations.frames[t] for t in record.explanations.key_frames]
    both = [f for f in frames if {first, second} <= set(f.maps)]
    if not both:
        return None
    pairs = [(f.maps[first].region, f.maps[second].region) for f in both
             if _localised(f.maps[first]) and _localised(f.maps[second])]
    if not pairs:
        return _("Pixel-level saliency and Grad-CAM cannot be compared on the key frames: on each of them at least "
                 "one of the two maps shows no localisation.")
    text = _("On %(same)d of %(total)d key frames the pixel-level saliency peaks in the same part of the image as "
             "Grad-CAM; disagreement means the two methods point to different details.") % {
        "same": sum(a == b for a, b in pairs), "total": len(pairs)}
    left_out = len(both) - len(pairs)
    if left_out:
        text += " " + ngettext("On the other key frame at least one of the two maps shows no localisation.",
                               "On the other %(count)d key frames at least one of the two maps shows no localisation.",
                               left_out) % {"count": left_out}
    return text
