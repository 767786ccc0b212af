"""The checkpoints a batch writes (`archive.checkpoint`): after a registration once
`CHECKPOINT_SECONDS` have passed since the last one, and at the end of every run, also a failed
or interrupted one. One checkpoint takes a few milliseconds (a TSA round trip more with a
timestamp authority; `benchmarks/bench_checkpoint.py`); the interval bounds the ledger's growth
(a checkpoint line is ~4 KiB, ~8 KiB with a timestamp) on batches of thousands of short units."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from auditor.archive import Ledger, checkpoint
from auditor.keys import SigningIdentity

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS: Final = 5.0  # at most one checkpoint in this time, besides the one ending each run


@dataclass
class Sealer:
    """Seals a batch's ledger with its seal."""

    ledger: Ledger
    identity: SigningIdentity
    tsa_url: str | None = None
    witness: Path | None = None  # receives a copy of every checkpoint
    interval: float = CHECKPOINT_SECONDS
    sealed_at: float = field(default_factory=time.monotonic)

    def seal(self) -> None:
        """A checkpoint of the whole ledger (none when its last entry is one)."""
        checkpoint.write_checkpoint(
            self.ledger.out, self.identity, tsa_url=self.tsa_url, witness=self.witness, create=True, ledger=self.ledger
        )
        self.sealed_at = time.monotonic()

    def now_and_then(self) -> None:
        """After a registration: a checkpoint once the interval has passed."""
        if time.monotonic() - self.sealed_at >= self.interval:
            self.seal()

    def on_the_way_out(self) -> None:
        """The checkpoint of a failed or interrupted run: what it registered is sealed, if it can be."""
        try:
            self.seal()
        except Exception as exc:  # the run's own error is the one to show
            log.warning("the ledger of %s could not be sealed (%s); seal it with `auditor ledger seal`", self.ledger.out, exc)
