"""Model-randomisation sanity check per model (Adebayo et al. 2018, "Sanity checks for saliency maps").

Definition. Let L be the weighted layers of the per-frame (TimeDistributed) CNN, bottom to top, and
k = max(1, ⌈|L| · top_fraction⌉) (half by default: for VGG19 exactly its top two blocks, block4 and
block5; for the demo detector conv2, bn2 and last_conv). The re-initialised layers are the top k of L,
extended downward to the last weighted layer at or below the Grad-CAM target layer, so the layers
that make the target maps are always among them. They are re-initialised in a second copy of the
model, loaded again from its file (the checked detector's weights are never touched): every variable
gets a fresh draw of the layer's own initializer for it (`<name>_initializer`, re-created with an
explicit seed; batch-norm moving statistics so go back to 0 and 1), or, for a variable without
one, a seeded permutation of its values.

Reference clips: synthetic clips made by `auditor.synthetic.make_clip` with fixed labels and seeds
(64×64, T = the model's clip length or 16; the first T frames of a 4-frame clip when T < 4, the
shortest clip it makes), resized to the model input like any clip. For each clip
and map method, the maps of the original and of the randomised model are computed for the class the
original predicts. ρ is Spearman's rank correlation per frame between the flattened maps (ties get
their average rank; a frame whose two maps are both constant counts as ρ = 1, one constant map as
ρ = 0); the method's figures are the mean of ρ and of |ρ| over all frames of all clips.

Verdict: "passes" when the mean |ρ| is below the threshold (0.5 by default), else "fails". The
absolute value is taken because a map that merely inverts its ranking still reproduces the image's
structure. 0.5 is halfway between unrelated maps (0) and identical ones (1): above it the two maps
share more than a quarter (ρ²) of their rank variance although the layers that make them were
replaced; Adebayo et al. find model-dependent maps falling well below it and edge-detector-like
maps staying near 1.

The check is computed once per model and cached by model hash (`model_randomisation_check`). A
cache entry holds figures and codes only (hashes, a time, method names), never text a report would
quote, and counts only under an HMAC keyed by the caller's secret (derived from the organisation
seal): whoever can write the cache folder but does not hold the seal cannot plant figures. The
layer names and the reference clips are described again from the detector and the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from scipy import stats

from auditor._tensorflow import keras
from auditor.errors import ArchiveError, ModelError
from auditor.explain import METHODS, Method
from auditor.explain.base import DetectorLike
from auditor.files import atomic_write_bytes
from auditor.names import Sha256
from auditor.synthetic import make_clip

log = logging.getLogger(__name__)

CACHE_VERSION = 2
MAX_CACHE_BYTES = 64 * 1024  # a cache file is a few hundred bytes; a larger one is not read
DEFAULT_FRAMES = 16
MIN_CLIP_FRAMES = 4  # make_clip's shortest clip
CLIP_SIZE = 64  # make_clip's frames are CLIP_SIZE × CLIP_SIZE


@dataclass(frozen=True)
class SanitySettings:
    """What the check does; every figure depends on these (they are part of the cache key)."""

    seed: int = 0  # seeds the re-initialisation
    threshold: float = 0.5  # a method passes when its mean |ρ| is below this
    top_fraction: float = 0.5  # share of the CNN's weighted layers re-initialised (at least one)
    clips: tuple[tuple[str, int], ...] = (("fight", 1501), ("fall", 1502))  # (label, seed) of make_clip

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1 or not 0 < self.top_fraction <= 1 or not 1 <= len(self.clips) <= 8:
            raise ValueError("threshold and top_fraction must lie in (0, 1] and there must be 1 to 8 reference clips")


@dataclass(frozen=True)
class MethodSanity:
    """One map method's result: mean ρ and |ρ| over all reference frames, and the verdict."""

    correlation: float
    abs_correlation: float
    verdict: str  # "passes" or "fails"


@dataclass(frozen=True)
class SanityCheck:
    """The model-randomisation check of one model and Grad-CAM target layer."""

    model_sha256: str
    layer: str
    randomised_layers: tuple[str, ...]  # bottom to top
    reference_clips: Mapping[str, str | int]  # labels, seeds (", "-joined, in order), frames, size, width, height
    seed: int
    threshold: float
    methods: Mapping[str, MethodSanity]
    computed_at: str  # ISO 8601, UTC
    host: str  # the machine that computed the figures, or read them from `cache_file`
    cache_file: Path | None = None  # the authenticated cache entry they were read from; None: computed now

    @property
    def from_cache(self) -> bool:
        return self.cache_file is not None


class _MethodRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    correlation: float = Field(ge=-1.0, le=1.0)
    abs_correlation: float = Field(ge=0.0, le=1.0)


class _CacheRecord(BaseModel):
    """A cache file: figures and codes only; `key` hashes the layer, the settings and the method
    names, `mac` authenticates everything else. Verdicts and descriptions are derived again."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[2]
    key: Sha256
    model_sha256: Sha256
    methods: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")], _MethodRecord] = Field(
        min_length=1, max_length=64
    )
    computed_at: datetime
    mac: Sha256

    def expected_mac(self, secret: bytes) -> str:
        """HMAC-SHA256 under `secret` of every other field, as canonical JSON."""
        text = json.dumps(self.model_dump(mode="json", exclude={"mac"}), sort_keys=True, separators=(",", ":"))
        return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def model_randomisation_check(
    detector: DetectorLike,
    methods: Mapping[str, Method] | None = None,
    cache_dir: Path | None = None,
    settings: SanitySettings = SanitySettings(),
    cache_key: bytes | None = None,
) -> SanityCheck:
    """The check for `detector` and its target layer: read from the cache when an entry for this
    model file, layer, settings and method names exists and `cache_key` authenticates it, else
    computed and cached under that key (each key has its file: two seals sharing a cache folder
    do not overwrite each other's entries, and an entry that fails its key is a planted one). Without a key the cache is neither read nor written; an
    unwritable cache only logs a warning."""
    methods = dict(METHODS if methods is None else methods)
    if cache_key is None:
        return _compute(detector, methods, settings)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _cache_key(detector.layer_name, settings, methods)
    seal = hmac.new(cache_key, b"auditor sanity cache file", hashlib.sha256).hexdigest()[:12]  # one file per seal
    path = folder / f"sanity-{detector.model_sha256}-{_slug(detector.layer_name)}-{key[:16]}-{seal}.json"
    cached = _read_cache(path, detector, key, settings, methods, cache_key)
    if cached is not None:
        return cached
    check = _compute(detector, methods, settings)
    _write_cache(path, check, key, cache_key)
    return check


def default_cache_dir() -> Path:
    """$AUDITOR_CACHE_DIR, else $XDG_CACHE_HOME/auditor, else ~/.cache/auditor."""
    if os.environ.get("AUDITOR_CACHE_DIR"):
        return Path(os.environ["AUDITOR_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "auditor"
    return Path.home() / ".cache" / "auditor"


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ of two equally sized arrays, flattened (average ranks for ties); both constant
    gives 1, one constant gives 0."""
    constant_a, constant_b = bool(np.all(a == a.flat[0])), bool(np.all(b == b.flat[0]))
    if constant_a or constant_b:
        return 1.0 if constant_a and constant_b else 0.0
    return float(np.clip(stats.spearmanr(a.ravel(), b.ravel()).statistic, -1.0, 1.0))


def randomised_layers(detector: DetectorLike, top_fraction: float = 0.5) -> list[keras.layers.Layer]:
    """The layers of `detector`'s per-frame CNN that the check re-initialises, bottom to top (see the
    module docstring)."""
    weighted = detector.weighted_layers()
    if not weighted:
        raise ModelError(
            f"{detector.model_path.name}: the per-frame CNN has no layer with weights, so there is nothing "
            "to re-initialise for the sanity check"
        )
    target = detector.layer_names().index(detector.layer_name)
    below = [i for i, (step, _) in enumerate(weighted) if step <= target]
    top = max(1, math.ceil(len(weighted) * top_fraction))
    start = min(len(weighted) - top, below[-1] if below else 0)
    return [layer for _, layer in weighted[start:]]


def _compute(detector: DetectorLike, methods: Mapping[str, Method], settings: SanitySettings) -> SanityCheck:
    copy = detector.fresh_copy()
    layers = randomised_layers(copy, settings.top_fraction)
    _reinitialise(layers, settings.seed)
    length = detector.frames_per_clip or DEFAULT_FRAMES
    input_grads = any(method.needs_input_grads for method in methods.values())
    rhos: dict[str, list[float]] = {name: [] for name in methods}
    for label, seed in settings.clips:
        frames = make_clip(label, seed, frames=max(length, MIN_CLIP_FRAMES), size=CLIP_SIZE).frames[:length]
        original = detector.gradients(frames, None, None, input_grads)
        randomised = copy.gradients(frames, original.target_index, None, input_grads)
        for name, method in methods.items():
            before, after = method.compute(original), method.compute(randomised)
            rhos[name].extend(spearman(b, a) for b, a in zip(before, after, strict=True))
    figures = {name: (float(np.mean(values)), float(np.mean(np.abs(values)))) for name, values in rhos.items()}
    return _check(detector, settings, figures, datetime.now(UTC))


def _check(
    detector: DetectorLike, settings: SanitySettings, figures: Mapping[str, tuple[float, float]], computed_at: datetime,
    cache_file: Path | None = None,
) -> SanityCheck:
    """The check of `detector` from its figures (mean ρ and |ρ| per method): layers, clips and
    verdicts are derived here, from the detector and the settings, never read from a cache."""
    return SanityCheck(
        model_sha256=detector.model_sha256,
        layer=detector.layer_name,
        randomised_layers=tuple(layer.name for layer in randomised_layers(detector, settings.top_fraction)),
        reference_clips=_clips_params(settings, detector.frames_per_clip or DEFAULT_FRAMES, detector),
        seed=settings.seed,
        threshold=settings.threshold,
        methods={name: _method_result(rho, abs_rho, settings.threshold) for name, (rho, abs_rho) in figures.items()},
        computed_at=computed_at.astimezone(UTC).isoformat(timespec="seconds"),
        host=socket.gethostname(),
        cache_file=cache_file,
    )


def _reinitialise(layers: list[keras.layers.Layer], seed: int) -> None:
    """Every variable of `layers` re-drawn from its layer's initializer (seeded), else permuted."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        for variable in layer.weights:
            sub_seed = int(rng.integers(2**31 - 1))
            shape = tuple(variable.shape)
            initializer = getattr(layer, f"{variable.name}_initializer", None)
            if isinstance(initializer, keras.initializers.Initializer):
                config = initializer.get_config()
                if "seed" in config:
                    config["seed"] = sub_seed
                value = np.asarray(type(initializer).from_config(config)(shape, dtype=variable.dtype))
            else:
                value = np.random.default_rng(sub_seed).permutation(np.asarray(variable.numpy()).ravel()).reshape(shape)
            variable.assign(value)


def _method_result(rho: float, abs_rho: float, threshold: float) -> MethodSanity:
    passes = abs_rho < threshold
    return MethodSanity(rho, abs_rho, "passes" if passes else "fails")


def _clips_params(settings: SanitySettings, length: int, detector: DetectorLike) -> dict[str, str | int]:
    """The reference clips: `make_clip`'s labels and seeds, in order, its frames and size, and the model-input size."""
    height, width = detector.input_shape[1:3]
    return {"labels": ", ".join(label for label, _ in settings.clips),
            "seeds": ", ".join(str(seed) for _, seed in settings.clips),
            "frames": length, "size": CLIP_SIZE, "width": int(width), "height": int(height)}


def _cache_key(layer: str, settings: SanitySettings, methods: Mapping[str, Method]) -> str:
    text = json.dumps(
        {"version": CACHE_VERSION, "layer": layer, "settings": asdict(settings), "methods": sorted(methods)},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]


def _read_cache(
    path: Path, detector: DetectorLike, key: str, settings: SanitySettings, methods: Mapping[str, Method],
    secret: bytes,
) -> SanityCheck | None:
    """The cached check at `path`, or None when it is absent, unreadable, malformed, not
    authenticated by `secret`, or for anything else."""
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_CACHE_BYTES:
            raise ValueError(f"larger than {MAX_CACHE_BYTES} bytes")
        record = _CacheRecord.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        log.warning("ignoring sanity-check cache file %s (%s); computing the check again", path, _first_line(exc))
        return None
    if not hmac.compare_digest(record.mac, record.expected_mac(secret)):
        log.warning("sanity-check cache file %s was not written under this seal; computing the check again", path)
        return None
    if (record.key, record.model_sha256, set(record.methods)) != (key, detector.model_sha256, set(methods)):
        log.warning("sanity-check cache file %s does not match this model and settings; computing again", path)
        return None
    figures = {name: (m.correlation, m.abs_correlation) for name, m in record.methods.items()}
    return _check(detector, settings, figures, record.computed_at, cache_file=path)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _write_cache(path: Path, check: SanityCheck, key: str, secret: bytes) -> None:
    unsigned = _CacheRecord(
        version=CACHE_VERSION,
        key=key,
        model_sha256=check.model_sha256,
        methods={
            name: _MethodRecord(correlation=m.correlation, abs_correlation=m.abs_correlation)
            for name, m in check.methods.items()
        },
        computed_at=datetime.fromisoformat(check.computed_at),
        mac="0" * 64,
    )
    record = unsigned.model_copy(update={"mac": unsigned.expected_mac(secret)})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, record.model_dump_json(indent=2).encode("utf-8"))
    except (OSError, ArchiveError) as exc:
        log.warning("could not cache the sanity check in %s (%s); it will be computed again next time", path, exc)
