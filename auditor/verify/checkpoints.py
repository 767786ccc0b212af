"""Verify the seal of a batch ledger: its checkpoints, its archive timestamps, and what was kept
elsewhere (a checkpoint hash from `auditor ledger head`, a witness folder).

- every checkpoint and timestamp entry states the ledger before it truly (entry count, head,
  counts per kind): a checkpoint left after entries were removed, inserted or altered is named;
- the last checkpoint is signed by a seal (never a reviewer certificate) that chains to the
  trusted roots, over that statement; its signature is checked like any detached signature;
- every entry after it is "not sealed yet", which fails (such a tail cannot be told from a
  ledger whose later checkpoints were cut off after a rewrite), except archive timestamps and
  the extensions (`auditor archive extend`) that an archive timestamp follows;
- the last archive timestamp is a token from an authority that chains to the trusted roots,
  over the statement before it;
- `head`: a checkpoint line with that SHA-256 is in the ledger (else a rollback, or another
  archive); `witness`: the newest checkpoint the witness folder holds for this archive is in it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

from auditor.archive.chain import Chain, LedgerEntry
from auditor.archive.checkpoint import archive_id, false_statements, seal_facts, witness_folder
from auditor.files import sha256_bytes
from auditor.keys.certificates import is_reviewer_certificate
from auditor.verify.detached import check_signature_bytes
from auditor.verify.limits import MAX_P7S_BYTES
from auditor.verify.status import Findings, SignatureSummary
from auditor.verify.trust import TrustAnchors

MAX_WITNESSED = 100_000  # names looked at in a witness folder
MAX_NAMED_UNSEALED = 5
_WITNESSED = re.compile(r"^(\d{9})\.json$")


@dataclass(frozen=True)
class SealCheck:
    """What the ledger's seal shows: the last checkpoint (None when none), the findings, and why
    its signer does not chain to the trusted roots (if so)."""

    checkpoint: LedgerEntry | None
    findings: Findings
    foreign: tuple[str, ...] = ()  # the untrusted findings of a checkpoint signer no trusted root issued
    stamps: tuple[LedgerEntry, ...] = ()  # the archive timestamps, in ledger order
    proven: datetime | None = None  # the time the last one proves, when its token verifies

    def proof_after(self, sequence: int, anchors: TrustAnchors) -> tuple[int, datetime] | None:
        """The first archive timestamp after ledger entry `sequence` and the time it proves (its
        token checked as of the last timestamp's time), or None."""
        return _proof_after(sequence, self.stamps, anchors, self.proven)


def check_seal(
    out: Path, chain: Chain, lines: Sequence[bytes], anchors: TrustAnchors,
    head: str | None = None, witness: Path | None = None,
) -> SealCheck:
    """The findings on the seal of OUT's ledger (`lines`: its complete lines, `chain` read from them)."""
    findings = Findings()
    intact = chain.entries if chain.first_broken is None else chain.entries[: chain.first_broken - 1]
    if not chain.lines:
        findings.invalid.append(
            f"the ledger is empty: no sealed checkpoint covers this batch folder (emptied, or never sealed); "
            f"what it registered cannot be proven; if it is yours and intact, seal it with `auditor ledger seal {out}`"
        )
        return SealCheck(None, findings)
    findings.invalid += false_statements(intact)
    stamps = [entry for entry in intact if entry.kind == "timestamp"]
    proven = _check_timestamp(stamps[-1], anchors, findings) if stamps else None
    last = next((entry for entry in reversed(intact) if entry.kind == "checkpoint"), None)
    foreign: list[str] = []
    if last is None:
        findings.invalid.append(
            f"no sealed checkpoint: nothing proves that entries were not removed (a folder written before "
            f"checkpoints, or its checkpoints were cut off); if it is yours and intact, seal it with "
            f"`auditor ledger seal {out}`"
        )
    else:
        proof = _proof_after(last.sequence, stamps, anchors, proven)
        foreign = _check_checkpoint(last, anchors, findings, proof[1] if proof else None)
        findings.invalid += _unsealed(out, intact[last.sequence :])
        findings.notes.append(
            f"sealed up to ledger entry {last.sequence} of {chain.lines} (checkpoint SHA-256 "
            f"{sha256_bytes(lines[last.sequence - 1])}); keep it elsewhere (`auditor ledger head`): only it, "
            "`--head` or a witness folder, shows a cut back to an earlier checkpoint"
        )
    if head is not None:
        findings.invalid += _head_problems(head, lines, intact)
    if witness is not None:
        findings.invalid += _witness_problems(witness, chain, lines)
    return SealCheck(last, findings, tuple(foreign), tuple(stamps), proven)


def _check_checkpoint(entry: LedgerEntry, anchors: TrustAnchors, findings: Findings, later: datetime | None) -> list[str]:
    """The signature of the last checkpoint: intact, over its statement, by a seal under the roots,
    now or (past its certificate's life) as of `later`, when an archive timestamp proves it existed
    then; returns why its signer is not trusted, if so."""
    name = f"ledger entry {entry.sequence} (checkpoint)"
    facts, problem = seal_facts(entry)
    signature = _decoded(facts.signature if facts else None, name)
    if facts is None or isinstance(signature, str):
        findings.invalid.append(problem or str(signature))
        return []
    found, summaries = _signature(facts.state.signed_bytes(), signature, name, anchors)
    if found.untrusted and not found.invalid and later is not None:
        then, then_summaries = _signature(facts.state.signed_bytes(), signature, name, replace(anchors, moment=later))
        if not (then.invalid or then.untrusted):
            then.notes.append(f"valid as of {later:%Y-%m-%d %H:%M} UTC, when the archive timestamp after it proves it existed")
            found, summaries = then, then_summaries
    findings.invalid += found.invalid
    findings.untrusted += found.untrusted
    if summaries and _by_reviewer(signature, summaries[0]):
        findings.invalid.append(f"{name}: signed by a reviewer certificate ({summaries[0].signer}); only the seal seals a ledger")
    if summaries and not found.invalid:
        first = summaries[0]
        when = f" on {first.signed_at:%Y-%m-%d %H:%M} UTC" if first.signed_at else ""
        proof = " (timestamped)" if first.timestamped else ""
        findings.notes.append(f"{name}: signed by {first.signer}{when}{proof}")
    findings.notes += [f"{name}: {note}" for note in found.notes]
    return found.untrusted if summaries and not _issued_by_an_anchor(signature, summaries[0], anchors) else []


def _signature(data: bytes, signature: bytes, name: str, anchors: TrustAnchors) -> tuple[Findings, list[SignatureSummary]]:
    found = Findings()
    try:
        return found, check_signature_bytes(data, signature, name, anchors, found)
    except Exception as exc:  # hostile input may break the parser anywhere
        found.invalid.append(f"{name}: its signature cannot be read ({type(exc).__name__}); it is damaged")
        return found, []


def _decoded(text: str | None, name: str) -> bytes | str:
    """The DER bytes in base64 `text`, or why there are none (a str)."""
    if not text:
        return f"{name}: carries no signature"
    if len(text) > MAX_P7S_BYTES * 4 // 3 + 4:
        return f"{name}: its signature is larger than {MAX_P7S_BYTES} bytes: refused unread"
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return f"{name}: its signature is not base64"


def _signer_certificate(signature: bytes, summary: SignatureSummary) -> x509.Certificate | None:
    """The certificate in the CMS `signature` that made `summary`."""
    signed_data = cms.ContentInfo.load(signature)["content"]
    for choice in signed_data["certificates"] or []:
        der = choice.chosen.dump()
        if hashlib.sha256(der).hexdigest() == summary.certificate_sha256:
            return x509.load_der_x509_certificate(der)
    return None


def _by_reviewer(signature: bytes, summary: SignatureSummary) -> bool:
    """Whether the certificate that made `summary` carries the reviewer policy."""
    cert = _signer_certificate(signature, summary)
    return cert is not None and is_reviewer_certificate(cert)


def _issued_by_an_anchor(signature: bytes, summary: SignatureSummary, anchors: TrustAnchors) -> bool:
    """Whether a trusted root issued the signer's certificate (whatever its validity now)."""
    cert = _signer_certificate(signature, summary)
    for anchor in anchors.certs:
        try:
            cert.verify_directly_issued_by(anchor)  # type: ignore[union-attr]
            return True
        except (ValueError, TypeError, InvalidSignature, AttributeError):
            continue
    return False


def _check_timestamp(entry: LedgerEntry, anchors: TrustAnchors, findings: Findings) -> datetime | None:
    """The last archive timestamp: its token is intact, over its statement, by a trusted authority;
    the time it proves, if so."""
    name = f"ledger entry {entry.sequence} (archive timestamp)"
    status, problem = _token_status(entry, anchors, name)
    if status is None:
        findings.invalid.append(str(problem))
    elif not (status["intact"] and status["valid"]):
        findings.invalid.append(f"{name}: the token is altered or not over the ledger before it")
    elif status["trust_problem_indic"] is not None:
        findings.untrusted.append(f"{name}: the timestamp authority does not chain to the trusted roots")
    else:
        findings.notes.append(f"{name}: the ledger before it existed on {status['timestamp']:%Y-%m-%d %H:%M:%S} UTC")
        return status["timestamp"]
    return None


def _proof_after(
    sequence: int, stamps: Sequence[LedgerEntry], anchors: TrustAnchors, last: datetime | None
) -> tuple[int, datetime] | None:
    """The first archive timestamp after ledger entry `sequence` and the time it proves, its token
    checked as of the last timestamp's proven time `last` (the last one covers it)."""
    first = next((stamp for stamp in stamps if stamp.sequence > sequence), None)
    if first is None or last is None:
        return None
    if first is stamps[-1]:
        return first.sequence, last
    status, _ = _token_status(first, replace(anchors, moment=last), "")
    if status and status["intact"] and status["valid"] and status["trust_problem_indic"] is None:
        return first.sequence, status["timestamp"]
    return None


def _token_status(entry: LedgerEntry, anchors: TrustAnchors, name: str) -> tuple[dict | None, str | None]:
    """pyHanko's status of the entry's token over its statement, or why it cannot be had."""
    facts, problem = seal_facts(entry)
    token = _decoded(facts.token if facts else None, name)
    if facts is None or isinstance(token, str):
        return None, problem or str(token).replace("signature", "token")
    expected = hashlib.sha256(facts.state.signed_bytes()).digest()
    try:
        signed_data = cms.ContentInfo.load(token, strict=True)["content"]
        return asyncio.run(validate_tst_signed_data(signed_data, anchors.timestamp_context(), lambda _: expected)), None
    except Exception as exc:  # hostile input may break the parser anywhere
        return None, f"{name}: its token cannot be read ({type(exc).__name__}); it is damaged"


def _unsealed(out: Path, after: Sequence[LedgerEntry]) -> list[str]:
    """One problem naming the entries after the last checkpoint, if any: timestamps aside, and
    extensions that an archive timestamp follows (they only append to a registered PDF, checked
    by `archive.check.extension_problems`, and need no seal key: the seal may have expired)."""
    stamped = max((entry.sequence for entry in after if entry.kind == "timestamp"), default=0)
    waiting = [e for e in after if e.kind != "timestamp" and not (e.kind == "extension" and e.sequence < stamped)]
    if not waiting:
        return []
    named = ", ".join(f"{e.sequence} ({e.kind} {e.path})" for e in waiting[:MAX_NAMED_UNSEALED])
    more = f" and {len(waiting) - MAX_NAMED_UNSEALED} more" if len(waiting) > MAX_NAMED_UNSEALED else ""
    return [
        f"not sealed yet: ledger entries {named}{more} follow the last checkpoint; if you wrote them (a review, an "
        f"interrupted batch) seal them with `auditor ledger seal {out}`, otherwise entries were removed and the "
        "checkpoints after them cut off"
    ]


def _head_problems(head: str, lines: Sequence[bytes], entries: Sequence[LedgerEntry]) -> list[str]:
    wanted = head.strip().lower()
    if any(entry.kind == "checkpoint" and sha256_bytes(lines[entry.sequence - 1]) == wanted for entry in entries):
        return []
    return [
        f"the checkpoint {wanted[:16]}… kept elsewhere is not in this ledger: it was cut back to an earlier "
        "checkpoint (entries and folders removed), or it is another archive's ledger"
    ]


def _witness_problems(witness: Path, chain: Chain, lines: Sequence[bytes]) -> list[str]:
    """Whether the newest checkpoint the witness holds for this archive is a line of the ledger."""
    folder = witness_folder(witness, archive_id(chain))
    try:
        with os.scandir(folder) as listing:
            names = [entry.name for _, entry in zip(range(MAX_WITNESSED), listing, strict=False)]
    except OSError:
        return [f"the witness folder {witness} holds no checkpoint of this archive (its first ledger line changed, or it was never witnessed)"]
    numbers = sorted(int(match[1]) for name in names if (match := _WITNESSED.match(name)))
    if not numbers:
        return [f"the witness folder {witness} holds no checkpoint of this archive"]
    newest = numbers[-1]
    try:
        with open(folder / f"{newest:09d}.json", "rb") as handle:
            witnessed = handle.read(len(lines[newest - 1]) + 2) if newest <= len(lines) else b""
    except OSError as exc:
        return [f"the witness's checkpoint {newest} cannot be read ({exc.strerror or exc})"]
    if newest > len(lines) or witnessed != lines[newest - 1] + b"\n":
        return [
            f"the witness holds checkpoint {newest} of this archive, the ledger does not (it holds {len(lines)} "
            "entries): it was cut back or rewritten after that checkpoint"
        ]
    return []
