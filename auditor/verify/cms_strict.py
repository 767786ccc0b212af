"""The parts of a CMS container its signature does not cover, checked strictly and cheaply.

A CMS signature protects the signed attributes only; the digest-algorithm list, versions,
content type, certificates and unsigned attributes ride alongside. They must be strict DER,
agree with the signer info, and carry only what auditor writes there: one signer, its
certificate and the certificates on its path to a trust anchor (at most
`MAX_CARRIED_CERTIFICATES`, counted before any is verified), and at most a signature timestamp
whose token carries only its authority's certificate and that one's path.
"""

from __future__ import annotations

from asn1crypto import cms
from cryptography import x509

from auditor.keys import signed_by
from auditor.verify.limits import MAX_CARRIED_CERTIFICATES, MAX_TIMESTAMP_TOKENS
from auditor.verify.trust import TrustAnchors


def container_problem(der: bytes, anchors: TrustAnchors) -> str | None:
    """What is wrong with a DER CMS container holding a detached signature, or None."""
    if not der_is_tight(der):
        return "is not strict DER (slack, padding or odd lengths inside)"
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        return f"holds {info['content_type'].native}, not signed data"
    return signed_data_problem(info["content"], "data", anchors)


def timestamp_token_problem(der: bytes, anchors: TrustAnchors) -> str | None:
    """What is wrong with a DER timestamp token standing alone (a PDF document timestamp), or None."""
    if not der_is_tight(der):
        return "is not strict DER (slack, padding or odd lengths inside)"
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        return f"holds {info['content_type'].native}, not signed data"
    return signed_data_problem(info["content"], "tst_info", anchors, token=True)


def der_is_tight(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Every constructed element is exactly filled by its children, lengths are minimal, and no
    end-of-content (zero) elements appear: no bytes can hide between the parsed values."""
    end = len(data) if end is None else end
    pos = start
    try:
        while pos < end:
            content_start, content_end, constructed = _der_element(data, pos)
            if content_end > end or (constructed and not der_is_tight(data, content_start, content_end)):
                return False
            pos = content_end
    except (IndexError, ValueError, RecursionError):
        return False
    return pos == end and (start > 0 or _der_element(data, 0)[1] == end)


def _der_element(data: bytes, pos: int) -> tuple[int, int, bool]:
    """Content start, content end and constructed flag of the DER element at `pos`."""
    tag = data[pos]
    if tag == 0:
        raise ValueError("end-of-content element in DER")
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number form
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    first = data[pos]
    pos += 1
    length = first
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 4 or data[pos] == 0:
            raise ValueError("indefinite or non-minimal length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if length < 0x80:
            raise ValueError("non-minimal length")
    if pos + length > len(data):
        raise ValueError("truncated element")
    return pos, pos + length, bool(tag & 0x20)


def signed_data_problem(
    signed: cms.SignedData, content_type: str, anchors: TrustAnchors, token: bool = False
) -> str | None:
    """Structure, carried certificates and unsigned attributes of one SignedData."""
    infos = list(signed["signer_infos"])
    if len(infos) != 1:
        return f"has {len(infos)} signers, not one"
    count = len(signed["certificates"]) if signed["certificates"] else 0
    if count > MAX_CARRIED_CERTIFICATES:
        limit = MAX_CARRIED_CERTIFICATES
        return f"carries {count} certificates, more than the {limit} allowed (its signer and that one's path)"
    expected_version = "v3" if infos[0]["sid"].name == "subject_key_identifier" or content_type != "data" else "v1"
    if signed["version"].native != expected_version:
        return f"has version {signed['version'].native}, not {expected_version}"
    if [a.dump() for a in signed["digest_algorithms"]] != [infos[0]["digest_algorithm"].dump()]:
        return "lists digest algorithms its signer does not use"
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].native != content_type:
        return f"declares content type {encapsulated['content_type'].native}"
    if content_type == "data" and encapsulated["content"].native is not None:
        return "encapsulates content although the signature is detached"
    if signed["crls"].native:
        return "carries revocation lists, which auditor never writes there"
    return _signer_info_problem(infos[0], anchors, token) or carried_certificates_problem(signed, anchors, token)


def _signer_info_problem(info: cms.SignerInfo, anchors: TrustAnchors, token: bool) -> str | None:
    expected = "v3" if info["sid"].name == "subject_key_identifier" else "v1"
    if info["version"].native != expected:
        return f"has a signer version {info['version'].native}, not {expected}"
    attributes = list(info["unsigned_attrs"]) if info["unsigned_attrs"] else []
    if token and attributes:
        return "has a timestamp token with unsigned attributes"
    other = next((a["type"].native for a in attributes if a["type"].native != "signature_time_stamp_token"), None)
    if other:
        return f"has an unexpected unsigned attribute {other}"
    tokens = [value for attribute in attributes for value in attribute["values"]]
    if len(tokens) > MAX_TIMESTAMP_TOKENS:
        return f"has {len(tokens)} timestamp tokens, more than the {MAX_TIMESTAMP_TOKENS} allowed"
    for value in tokens:
        if value["content_type"].native != "signed_data":
            return "has a timestamp token that is not signed data"
        problem = signed_data_problem(value["content"], "tst_info", anchors, token=True)
        if problem:
            return f"timestamp token {problem}"
    return None


def carried_certificates_problem(signed: cms.SignedData, anchors: TrustAnchors, token: bool = False) -> str | None:
    """The carried certificates must be exactly the signer's and those on its path.

    One walk from the signer up: each step takes the carried certificate named as issuer that
    verifies the current one, and stops at a self-signed certificate or one issued by a trust
    anchor. Every step verifies a signature, so a flipped byte in any carried certificate shows.
    A timestamp token may stop short of a root (TSAs rarely send theirs); a signer's path must not.
    """
    choices = list(signed["certificates"] or [])
    if any(choice.name != "certificate" for choice in choices):
        return "carries attribute or other certificates, which auditor never writes"
    signer = _signer_index(signed, choices)
    if signer is None:
        return "does not carry its signer's certificate"
    carried = [x509.load_der_x509_certificate(choice.chosen.dump()) for choice in choices]
    path, complete = _walk(carried, signer, anchors)
    if not complete and not token:
        return "carries an altered certificate, or one whose issuer is neither carried nor trusted"
    on_path = {carried[i] for i in path}  # a copy of a certificate on the path is that certificate
    extra = [cert.subject.rfc4514_string() for cert in carried if cert not in on_path]
    if extra:
        shown = "; ".join(extra[:3]) + ("; …" if len(extra) > 3 else "")
        return f"carries {len(extra)} certificate(s) that are not on its signer's path to a trust anchor ({shown})"
    return None


def _signer_index(signed: cms.SignedData, choices: list[cms.CertificateChoices]) -> int | None:
    sid = signed["signer_infos"][0]["sid"]
    for index, choice in enumerate(choices):
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.serial_number == wanted["serial_number"].native and cert.issuer == wanted["issuer"]:
                return index
        elif cert.key_identifier == sid.chosen.native:
            return index
    return None


def _walk(carried: list[x509.Certificate], start: int, anchors: TrustAnchors) -> tuple[list[int], bool]:
    """Indices of the path from `carried[start]` up, and whether it ends verified at a
    self-signed certificate or under a trust anchor."""
    by_subject: dict[x509.Name, list[int]] = {}
    for index, cert in enumerate(carried):
        by_subject.setdefault(cert.subject, []).append(index)
    path = [start]
    current = carried[start]
    while current.issuer != current.subject:
        candidates = (i for i in by_subject.get(current.issuer, ()) if i not in path)
        issuer = next((i for i in candidates if signed_by(current, carried[i])), None)
        if issuer is None:
            return path, any(a.subject == current.issuer and signed_by(current, a) for a in anchors.certs)
        path.append(issuer)
        current = carried[issuer]
    return path, signed_by(current, current)
