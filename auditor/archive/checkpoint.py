"""Sealed checkpoints and archive timestamps: what makes a deletion from a batch folder show.

A checkpoint is a ledger entry (kind "checkpoint", path `ledger.jsonl`) that states the ledger
as it stands before it (`LedgerState`: entry count, the SHA-256 of the last line, counts per
kind) and carries a detached CMS signature by the seal over that statement's canonical bytes,
base64 in the line (with an RFC 3161 timestamp when a TSA is configured). No key, no checkpoint:
a ledger cut, emptied or rewritten no longer ends with a checkpoint that covers it.

A timestamp entry (kind "timestamp") holds an RFC 3161 token from the TSA over the same
statement; it needs no seal key, so `auditor archive extend` can carry an archive past the
seal's expiry. What remains unprovable from the folder alone is a cut back to an earlier
checkpoint: `checkpoint_hash` of the last checkpoint (`auditor ledger head`) kept elsewhere, or
a witness folder that receives a copy of every checkpoint, shows that.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from asn1crypto import algos
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError

from auditor.archive.chain import GENESIS, LEDGER_NAME, SEALS, Chain, LedgerEntry, read_chain, read_ledger_bytes
from auditor.archive.ledger import Ledger
from auditor.errors import ArchiveError, first_problem
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.keys import SigningIdentity
from auditor.names import Sha256
from auditor.signing.seal import sign_bytes

CHECKPOINT_FORMAT = "auditor-checkpoint/1"
ENTRY_KINDS = ("scan", "report", "review", "submission", "extension", "checkpoint", "timestamp")
TSA_TIMEOUT = 10  # seconds


class LedgerState(BaseModel):
    """What a checkpoint or an archive timestamp states about the ledger before it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-checkpoint/1"] = "auditor-checkpoint/1"
    entries: int = Field(ge=0)  # lines before the checkpoint
    head: Sha256  # SHA-256 of the last of them (GENESIS when none)
    kinds: dict[str, int]  # entries of each kind among them (every kind named, zeros included)

    def signed_bytes(self) -> bytes:
        """The canonical bytes the seal signs and the TSA timestamps."""
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class SealFacts(BaseModel):
    """The facts of a checkpoint entry (`signature`: CMS) or a timestamp entry (`token`: RFC 3161)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: LedgerState
    signature: str | None = None  # base64 DER
    token: str | None = None  # base64 DER


def state_of(entries: list[LedgerEntry], head: str) -> LedgerState:
    """The state of a ledger holding `entries`, its last line hashing to `head`."""
    kinds = {kind: sum(entry.kind == kind for entry in entries) for kind in ENTRY_KINDS}
    return LedgerState(entries=len(entries), head=head, kinds=kinds)


def false_statements(entries: Sequence[LedgerEntry]) -> list[str]:
    """A problem for each checkpoint or timestamp of `entries` (a whole ledger, in order) that does
    not state the ledger before it: entries were removed, inserted or altered before it."""
    problems = []
    counts = dict.fromkeys(ENTRY_KINDS, 0)
    for entry in entries:
        if entry.kind in SEALS:
            facts, problem = seal_facts(entry)
            actual = LedgerState(entries=entry.sequence - 1, head=entry.previous, kinds=dict(counts))
            if facts is not None and facts.state != actual:
                problem = (
                    f"ledger entry {entry.sequence} ({entry.kind}): it states {facts.state.entries} entries ending in "
                    f"{facts.state.head[:16]}…, the ledger before it holds {actual.entries} ending in "
                    f"{actual.head[:16]}… ({_difference(facts.state, actual)})"
                )
            if problem:
                problems.append(problem)
        counts[entry.kind] += 1
    return problems


def seal_facts(entry: LedgerEntry) -> tuple[SealFacts | None, str | None]:
    """The facts of a checkpoint or timestamp entry, or why they are none."""
    try:
        return SealFacts.model_validate(entry.facts), None
    except ValidationError as exc:
        return None, f"ledger entry {entry.sequence} ({entry.kind}): not a {entry.kind} ({first_problem(exc, 'facts')})"


def _difference(stated: LedgerState, actual: LedgerState) -> str:
    lost = [f"{stated.kinds.get(kind, 0) - n} {kind}" for kind, n in actual.kinds.items() if stated.kinds.get(kind, 0) > n]
    return ("missing: " + ", ".join(lost)) if lost else "entries were altered, inserted or removed before it"


def checkpoint_hash(line: bytes) -> str:
    """What `auditor ledger head` prints: the SHA-256 of a checkpoint's ledger line (no newline)."""
    return sha256_bytes(line)


def write_checkpoint(
    out: Path, identity: SigningIdentity, *, tsa_url: str | None = None, witness: Path | None = None,
    create: bool = False, ledger: Ledger | None = None,
) -> LedgerEntry | None:
    """Seal OUT's ledger as it stands: append a checkpoint signed by `identity` (None when the last
    entry is a checkpoint already: nothing new to seal), and copy its line into `witness`.
    ArchiveError when an earlier checkpoint no longer states the ledger before it, or when OUT
    holds no ledger (unless `create`: a batch that registered nothing seals an empty one). `ledger`:
    the caller's `Ledger` of OUT, whose chain it keeps read (a batch seals often)."""
    ledger = ledger or Ledger(out)
    if not create and not ledger.path.is_file():
        raise ArchiveError(f"{out} holds no {LEDGER_NAME}: give the --out folder of a batch")

    def build(chain: Chain) -> tuple[str, dict[str, object]]:
        if chain.entries and chain.entries[-1].kind == "checkpoint":
            raise _AlreadySealed
        problems = false_statements(chain.entries)
        if problems:
            raise ArchiveError(f"{out}: {problems[0]}; a checkpoint never vouches for an altered ledger: not sealed")
        state = state_of(chain.entries, chain.head)
        signature = sign_bytes(state.signed_bytes(), identity, tsa_url=tsa_url, what=f"the checkpoint of {out}")
        return state.head, SealFacts(state=state, signature=_b64(signature)).model_dump(exclude_none=True)

    try:
        entry = ledger.append_seal("checkpoint", build)
    except _AlreadySealed:
        return None
    if witness is not None:
        witness_checkpoint(out, entry, witness)
    return entry


class _AlreadySealed(Exception):
    """The last entry is a checkpoint: nothing to seal."""


def timestamp_ledger(out: Path, tsa_url: str) -> LedgerEntry:
    """Append an archive timestamp: an RFC 3161 token from the TSA at `tsa_url` over the state of
    the ledger before it (its head covers every earlier line). No seal key is needed: it keeps
    the checkpoints provable past the seal's expiry. ArchiveError when the TSA does not answer."""

    def build(chain: Chain) -> tuple[str, dict[str, object]]:
        state = state_of(chain.entries, chain.head)
        token = request_token(state.signed_bytes(), tsa_url)
        return state.head, SealFacts(state=state, token=_b64(token)).model_dump(exclude_none=True)

    return Ledger(out).append_seal("timestamp", build)


def request_token(data: bytes, tsa_url: str) -> bytes:
    """An RFC 3161 timestamp token (DER ContentInfo) over SHA-256(`data`) from `tsa_url`."""
    digest = algos.DigestAlgorithmId("sha256").native
    stamper = HTTPTimeStamper(tsa_url, timeout=TSA_TIMEOUT)
    try:
        token = asyncio.run(stamper.async_timestamp(bytes.fromhex(sha256_bytes(data)), digest))
    except (TimestampRequestError, OSError, ValueError) as exc:
        raise ArchiveError(f"the timestamp authority {tsa_url} gave no timestamp ({exc}); check the URL") from exc
    except Exception as exc:  # aiohttp's errors are no OSError
        raise ArchiveError(f"the timestamp authority {tsa_url} cannot be reached ({type(exc).__name__}); check the URL") from exc
    return bytes(token.dump())


def last_checkpoint(out: Path) -> tuple[LedgerEntry, str]:
    """The last checkpoint of OUT's ledger and its `checkpoint_hash`; ArchiveError when the ledger
    is broken or holds none."""
    if not (Path(out) / LEDGER_NAME).is_file():
        raise ArchiveError(f"{out} holds no {LEDGER_NAME}: give the --out folder of a batch")
    chain = read_chain(out)
    if chain.problem:
        raise ArchiveError(f"{Path(out) / LEDGER_NAME}: {chain.problem}; run `auditor verify {out}`")
    lines = (read_ledger_bytes(out) or b"").split(b"\n")
    for entry in reversed(chain.entries):
        if entry.kind == "checkpoint":
            return entry, checkpoint_hash(lines[entry.sequence - 1])
    raise ArchiveError(f"{out} holds no sealed checkpoint; seal it with `auditor ledger seal {out}`")


def witness_folder(witness: Path, archive: str) -> Path:
    """Where `witness` keeps the checkpoints of the archive whose first ledger line hashes to `archive`."""
    return Path(witness) / archive


def witness_checkpoint(out: Path, entry: LedgerEntry, witness: Path) -> Path:
    """Copy the checkpoint `entry` of OUT's ledger as it is written there into the witness folder:
    `WITNESS/<SHA-256 of the first ledger line>/<sequence>.json` (its line, newline-terminated)."""
    lines = (read_ledger_bytes(out) or b"").split(b"\n")
    if len(lines) <= entry.sequence or LedgerEntry.model_validate_json(lines[entry.sequence - 1]) != entry:
        raise ArchiveError(f"the checkpoint {entry.sequence} of {out} is not in its ledger; nothing was witnessed")
    folder = witness_folder(witness, sha256_bytes(lines[0]))
    try:
        os.makedirs(folder, exist_ok=True)
        return atomic_write_bytes(folder / f"{entry.sequence:09d}.json", lines[entry.sequence - 1] + b"\n")
    except OSError as exc:
        raise ArchiveError(f"cannot write to the witness folder {witness} ({exc.strerror or exc}); check it") from exc


def archive_id(chain: Chain) -> str:
    """The name of an archive in a witness folder: the SHA-256 of its first ledger line."""
    return chain.first if chain.lines else GENESIS


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
