"""The checks that say how far one explanation can be trusted (DESIGN §2), run together for a
report: movement (`motion`), what-if edits (`counterfactual`), deletion and insertion curves
(`faithfulness`), the model-randomisation check (`sanity`, cached per model) and the people the
activation lies on (`persons`, on the key frames). Each lives in its own module; this one only
decides which run and gathers their results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from auditor.explain.base import CHECK_NAMES, ClipExplanation, DecisionRule, DetectorLike
from auditor.explain.counterfactual import CounterfactualSearch, pixels_key, search_counterfactuals
from auditor.explain.faithfulness import Faithfulness, faithfulness
from auditor.explain.key_frames import key_frames
from auditor.explain.motion import MotionRelevance, motion_relevance
from auditor.explain.persons import PersonGrounding, ground_persons
from auditor.explain.sanity import SanityCheck, model_randomisation_check

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class CheckSettings:
    """Which checks run (all by default), where the per-model sanity check is cached and the key
    that authenticates its entries (derived from the seal; None: it is computed afresh)."""

    motion: bool = True
    counterfactuals: bool = True
    faithfulness: bool = True
    sanity: bool = True
    persons: bool = True
    cache_dir: Path | None = None
    cache_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def without(
        cls, names: tuple[str, ...], cache_dir: Path | None = None, cache_key: bytes | None = None
    ) -> CheckSettings:
        """All checks except `names` (from CHECK_NAMES)."""
        return cls(**{name: name not in names for name in CHECK_NAMES}, cache_dir=cache_dir, cache_key=cache_key)

    def enabled(self) -> list[str]:
        """The names of the checks that run (what a batch keys its reports by)."""
        return [name for name in CHECK_NAMES if getattr(self, name)]


@dataclass(frozen=True)
class TrustChecks:
    """What the checks found for one explanation; a check that did not run is None."""

    key_frames: tuple[int, ...]
    motion: MotionRelevance | None = None
    counterfactuals: CounterfactualSearch | None = None
    faithfulness: Faithfulness | None = None
    sanity: SanityCheck | None = None
    persons: PersonGrounding | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The raw arrays the checks add to `arrays.npz`."""
        arrays: dict[str, np.ndarray] = {}
        if self.motion is not None:
            arrays |= {f"motion_spatial_{name}": np.asarray(m) for name, m in self.motion.spatial_maps.items()}
            arrays["motion_static_probabilities"] = np.asarray(self.motion.static_probabilities)
        for number, found in enumerate(self.counterfactuals.found if self.counterfactuals else (), start=1):
            if found.edit.pixels is not None:  # (T, H, W) bool: exactly the recorded pixels the edit replaced
                arrays[pixels_key(number)] = np.asarray(found.edit.pixels, dtype=bool)
        return arrays


def run_checks(
    detector: DetectorLike,
    recorded: np.ndarray,
    explanation: ClipExplanation,
    rule: DecisionRule,
    settings: CheckSettings | None = None,
    progress: Callable[[str], None] = log.info,
) -> TrustChecks:
    """Run the chosen checks on one explained clip; `recorded` holds its frames as decoded."""
    settings = settings or CheckSettings()
    keys = tuple(key_frames(explanation))

    def step(enabled: bool, message: str, run: Callable[[], T]) -> T | None:
        if not enabled:
            return None
        progress(message)
        return run()

    return TrustChecks(
        key_frames=keys,
        motion=step(settings.motion, "checking whether the movement mattered",
                    lambda: motion_relevance(detector, explanation)),
        counterfactuals=step(settings.counterfactuals, "searching for edits that change the outcome",
                             lambda: search_counterfactuals(detector, recorded, explanation, rule)),
        faithfulness=step(settings.faithfulness, "measuring deletion and insertion curves",
                          lambda: faithfulness(detector, explanation)),
        sanity=step(settings.sanity, "model-randomisation check (once per model)",
                    lambda: model_randomisation_check(detector, cache_dir=settings.cache_dir, cache_key=settings.cache_key)),
        persons=step(settings.persons and "gradcam" in explanation.maps, "looking for people in the key frames",
                     lambda: ground_persons(recorded, explanation.maps["gradcam"], keys)),
    )
