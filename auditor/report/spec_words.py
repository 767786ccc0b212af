"""The words of the record's computation specifications ("spec.…" codes), in the reader's language.

From schema 2.7 the record states how a trust check was computed as a code and its parameters
(`auditor.evidence.Note`): how a region was blurred, what re-scored an edit, how an edited clip
became the model's input, how the faithfulness curves rank and remove, which reference clips the
model-randomisation check ran on, which people detector and face masking ran. Each code names one
fixed rule; its English msgid below is the rule in full, so a reader can rebuild the computation
without auditor. Identifiers (OpenCV and numpy calls, constants, record field names) stay as
they are in every language. A record before 2.7 states the rule as an English sentence: shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from auditor.evidence import Note
from auditor.i18n import _, number
from auditor.messages import N_

Params = Mapping[str, str | int | float | bool]

_FIXED = {  # the specifications state how a computation was done, so that it can be redone without auditor
    # TRANSLATORS: fills "each edit shown was … scored by %(scorer)s", so it is a noun phrase in lower case.
    "spec.rescoring.keras_compiled": N_(
        "the model file loaded by Keras, called once per edit as one compiled function (model.predict_on_batch) on "
        "the edited clip resized and preprocessed, not the split CNN/head passes the search scored it with"),
    # TRANSLATORS: a computation's specification: keep every identifier (cv2.resize, INTER_AREA, numpy.argsort, input.frame_indices, geometry.model_width, explanations.preprocessing, 'unit', counts[i], blur_sigma, values…), formula and order of steps as written.
    "spec.model_input.counterfactuals": N_(
        "Edits apply to the recorded frames: input.frame_indices of the video, decoded in order with OpenCV (BGR to "
        "RGB) at geometry.source_width x source_height. The edited clip became the model's input as the original "
        "did: each frame resized to geometry.model_width x model_height with cv2.resize, INTER_AREA (no crop), "
        "preprocessed per explanations.preprocessing ('unit': x / 255; else "
        "keras.applications.imagenet_utils.preprocess_input with that mode, on float32 RGB in 0-255), and the T "
        "frames scored as one clip (1, T, H, W, 3) by the model file."),
    # TRANSLATORS: fills "Removal, on the frames at the model's input size: %(removal)s."
    "spec.removal.mean_colour": N_("replaced by the frame's mean colour"),
    # TRANSLATORS: a computation's specification: keep every identifier (cv2.resize, INTER_AREA, numpy.argsort, input.frame_indices, geometry.model_width, explanations.preprocessing, 'unit', counts[i], blur_sigma, values…), formula and order of steps as written.
    "spec.faithfulness.ranking": N_(
        "An ordering ranks the units of the array `values` names: a map (T, h, w) smaller than the frames is first "
        "resized to the model-input frames' (H, W) by cv2.resize, INTER_LINEAR, as float32; the T*H*W positions (or "
        "T frames) in C order are ranked highest value first, ties by position (numpy.argsort of the negated values "
        "as float64, kind 'stable'; NaN lowest). A random ordering is numpy.random.default_rng(seed).permutation(N), "
        "its first element first; random insertion uses it reversed. At point i the first k = counts[i] units are "
        "removed (deletion) or all but them (insertion); a removed pixel, all 3 channels, takes the value of the "
        "same pixel of its frame blurred by cv2.GaussianBlur, ksize (0, 0), sigma blur_sigma, border (blur_sigma "
        "None: the frame's mean colour, rounded); a removed frame is blurred whole. A score is the model's "
        "probability of the explained class; an AUC is numpy.trapezoid of the scores over the fractions k/N; a "
        "random curve is the mean over seeds."),
    # TRANSLATORS: a computation's specification: keep every identifier (cv2.resize, INTER_AREA, numpy.argsort, input.frame_indices, geometry.model_width, explanations.preprocessing, 'unit', counts[i], blur_sigma, values…), formula and order of steps as written.
    "spec.model_input.faithfulness": N_(
        "The edited frames are the model's input frames: the recorded frames (input.frame_indices of the video, "
        "decoded with OpenCV, BGR to RGB), each resized to geometry.model_width x model_height by cv2.resize, "
        "INTER_AREA (unchanged when already that size), uint8 RGB; each edited clip was preprocessed per "
        "explanations.preprocessing and scored by the model."),
    # TRANSLATORS: how the explanation relates to face masking, a statement in lower case.
    "spec.masking.unmasked_input": N_(
        "the explanation was computed on the unmasked frames; only the pictures are masked"),
    "spec.masking.none": N_("none: face masking was switched off"),
}


def _blur(params: Params) -> str:
    facts = {"sigma": number(float(params["sigma"]), None), "border": params["border"]}
    factor = int(params.get("factor", 1))
    if factor == 1:
        # TRANSLATORS: fills "the record states the blur (%(blur)s)".
        return _("Gaussian blur, sigma %(sigma)s px (cv2.GaussianBlur, %(border)s)") % facts
    # TRANSLATORS: fills "the record states the blur (%(blur)s)"; 1/%(factor)s is a fraction of the frame's size.
    return _("Gaussian blur, sigma %(sigma)s px, computed at 1/%(factor)s of the size: cv2.INTER_AREA downscale by "
             "%(factor)s, cv2.GaussianBlur sigma %(scaled_sigma)s (%(border)s), cv2.INTER_LINEAR upscale to the "
             "recorded size") % {**facts, "factor": number(factor),
                                 "scaled_sigma": number(float(params["sigma"]) / factor, None)}


def _removal(params: Params) -> str:
    # TRANSLATORS: fills "Removal, on the frames at the model's input size: %(removal)s."
    return _("replaced by the frame blurred with a Gaussian of sigma %(sigma)s px") % {
        "sigma": number(float(params["sigma"]), 1)}


def _reference_clips(params: Params) -> str:
    # TRANSLATORS: fills "Model-randomisation check (Adebayo et al., 2018) on %(clips)s; …". %(labels)s are
    # class names and %(seeds)s random seeds, both as lists in the same order.
    return _("synthetic clips of auditor.synthetic.make_clip with the labels %(labels)s and the seeds %(seeds)s "
             "(in that order), %(frames)s frames of %(size)s\u00d7%(size)s pixels, resized to "
             "%(width)s\u00d7%(height)s") % {
        "labels": params["labels"], "seeds": params["seeds"], "frames": number(int(params["frames"])),
        "size": number(int(params["size"])), "width": number(int(params["width"])),
        "height": number(int(params["height"]))}


def _people_detector(params: Params) -> str:
    return _("OpenCV HOG people detector (Dalal-Triggs default SVM, %(width)s\u00d7%(height)s window)") % {
        "width": number(int(params["width"])), "height": number(int(params["height"]))}


def _masking(params: Params) -> str:
    # TRANSLATORS: how faces were found and masked; %(frontal)s and %(profile)s are OpenCV's cascade file names.
    return _("OpenCV Haar cascades (%(frontal)s and %(profile)s); pixelate + gaussian blur; each face also in the "
             "frame before and after") % {"frontal": params["frontal"], "profile": params["profile"]}


def _encoder(params: Params) -> str:
    # TRANSLATORS: how the report's video clip was encoded; VP9, libvpx-vp9, WebM and 4:2:0 are names.
    return _("VP9 (libvpx-vp9) in WebM, 4:2:0, constant quality %(quality)s, at most %(kbps)s kbit/s") % {
        "quality": number(int(params["quality"])), "kbps": number(int(params["kbps"]))}


_WORDED: dict[str, Callable[[Params], str]] = {
    "spec.blur.gaussian": _blur,
    "spec.removal.gaussian": _removal,
    "spec.sanity.synthetic_clips": _reference_clips,
    "spec.persons.hog_default": _people_detector,
    "spec.masking.haar_pixelate_blur": _masking,
    "spec.encoder.vp9_webm": _encoder,
}


def spec_text(spec: Note | str | None) -> str:
    """A computation specification of the record in the reader's language ("" for none); the English
    sentence of a record before 2.7 as it is; a code this version does not know as the code and its parameters."""
    if spec is None or isinstance(spec, str):
        return spec or ""
    if spec.code in _FIXED:
        return _(_FIXED[spec.code])
    words = _WORDED.get(spec.code)
    if words is None:
        return " ".join([spec.code, *(f"{key}={value}" for key, value in sorted(spec.params.items()))])
    return words(spec.params)


def codes() -> frozenset[str]:
    """Every specification code this module words."""
    return frozenset(_FIXED) | frozenset(_WORDED)
