"""Document metadata a later signer may not rewrite: the Info dictionary and the XMP packet.

Signing a new revision legitimately touches the producer and the modification dates only
(pyHanko rewrites them, `auditor.signing.seal` aligns Info /Producer with XMP pdf:Producer); every
other Info entry and XMP leaf value must read as in the revision the seal certified.

The conformance the XMP claims must hold where it can be checked cheaply: a PDF that claims
PDF/A level A (pdfaid:conformance "A") or PDF/UA (pdfuaid:part), as reports have since issue 25,
is tagged: a structure tree, `/MarkInfo /Marked true` and a `/Lang`. Older reports claim PDF/A-3b
and need none of that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfStreamError
from pyhanko.pdf_utils.reader import PdfFileReader

from auditor.verify.limits import MAX_XMP_BYTES

IGNORED_INFO = frozenset({"/Producer", "/ModDate"})
_PDF, _XMP = "http://ns.adobe.com/pdf/1.3/", "http://ns.adobe.com/xap/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_PDFA_LEVEL = "{http://www.aiim.org/pdfa/ns/id/}conformance"
_PDFUA_PART = "{http://www.aiim.org/pdfua/ns/id/}part"
IGNORED_XMP = frozenset(
    {f"{{{_PDF}}}Producer", f"{{{_XMP}}}ModifyDate", f"{{{_XMP}}}MetadataDate", "{adobe:ns:meta/}xmptk"}
)  # producer, dates, and the toolkit that wrote the packet
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
Leaf = tuple[str, str, str]  # (property name, path within it, value)


def metadata_changes(reader: PdfFileReader, certified_revision: int) -> list[str]:
    """One reason naming the metadata entries that differ from the certified revision, or none."""
    last = reader.xrefs.total_revisions - 1
    try:
        info_before, xmp_before = _metadata(reader, certified_revision)
        info_after, xmp_after = _metadata(reader, last)
        changed = _info_changes(info_before, info_after) + _xmp_changes(xmp_before, xmp_after)
    except (ValueError, PdfStreamError, etree.XMLSyntaxError) as exc:
        return [f"the metadata cannot be compared with the sealed revision ({exc})"]
    return [f"the metadata changed after the seal: {', '.join(changed)}"] if changed else []


def tagging_problems(reader: PdfFileReader, revision: int) -> list[str]:
    """One reason when the XMP of `revision` claims a tagged conformance (PDF/A level A, PDF/UA)
    that its document catalog does not hold, or none."""
    try:
        root = _at(reader, reader.trailer.flatten(revision).raw_get("/Root"), revision)
        if not isinstance(root, generic.DictionaryObject):
            raise ValueError(f"revision {revision} has no document catalog")
        claims = _claims(_at(reader, root.raw_get("/Metadata"), revision) if "/Metadata" in root else None)
        if not claims:
            return []
        missing = _untagged(reader, root, revision)
    except (ValueError, PdfStreamError, etree.XMLSyntaxError) as exc:
        return [f"the metadata's conformance claim cannot be checked ({exc})"]
    if not missing:
        return []
    return [f"the metadata claims {' and '.join(claims)}, but the PDF has no {', no '.join(missing)}: it is not the "
            "tagged PDF it says it is"]


def _claims(stream: generic.PdfObject | None) -> list[str]:
    """The tagged conformances the XMP packet claims ("PDF/A level A", "PDF/UA-1")."""
    if not isinstance(stream, generic.StreamObject):
        return []
    values = {name: value for name, value in _properties(etree.fromstring(_xmp_bytes(stream), _PARSER))}
    claims = []
    if values.get(_PDFA_LEVEL, "").strip().upper() == "A":
        claims.append("PDF/A level A")
    if _PDFUA_PART in values:
        claims.append(f"PDF/UA-{values[_PDFUA_PART].strip()}")
    return claims


def _properties(element: etree._Element) -> Iterator[tuple[str, str]]:
    """Every (`{namespace}name`, value) of the packet, as attribute or as element text."""
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        yield from node.attrib.items()
        if len(node) == 0 and node.text:
            yield node.tag, node.text


def _untagged(reader: PdfFileReader, root: generic.DictionaryObject, revision: int) -> list[str]:
    """What a tagged PDF needs that `root` lacks."""
    missing = []
    if not isinstance(_at(reader, root.raw_get("/StructTreeRoot"), revision) if "/StructTreeRoot" in root else None,
                      generic.DictionaryObject):
        missing.append("structure tree")
    mark_info = _at(reader, root.raw_get("/MarkInfo"), revision) if "/MarkInfo" in root else None
    marked = mark_info.get("/Marked") if isinstance(mark_info, generic.DictionaryObject) else None
    if not (isinstance(marked, generic.BooleanObject) and bool(marked)):
        missing.append("/MarkInfo /Marked true")
    if not str(root.get("/Lang", "")).strip():
        missing.append("/Lang")
    return missing


def _metadata(reader: PdfFileReader, revision: int) -> tuple[dict[str, str], Counter[Leaf]]:
    """Info entries and XMP leaves as of `revision`, read afresh (pyHanko never caches those)."""
    trailer = reader.trailer.flatten(revision)
    info = _at(reader, trailer.raw_get("/Info"), revision) if "/Info" in trailer else None
    root = _at(reader, trailer.raw_get("/Root"), revision)
    if not isinstance(root, generic.DictionaryObject):
        raise ValueError(f"revision {revision} has no document catalog")
    xmp = _at(reader, root.raw_get("/Metadata"), revision) if "/Metadata" in root else None
    return _info(info), _xmp_leaves(xmp)


def _at(reader: PdfFileReader, value: generic.PdfObject, revision: int) -> generic.PdfObject:
    return reader.get_object(value.reference, revision) if isinstance(value, generic.IndirectObject) else value


def _info(info: generic.PdfObject | None) -> dict[str, str]:
    if not isinstance(info, generic.DictionaryObject):
        return {}
    return {str(key): str(info.raw_get(key)) for key in info if key not in IGNORED_INFO}


def _info_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [key.lstrip("/") for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]


def _xmp_leaves(stream: generic.PdfObject | None) -> Counter[Leaf]:
    if not isinstance(stream, generic.StreamObject):
        return Counter()
    return Counter(_leaves(etree.fromstring(_xmp_bytes(stream), _PARSER)))


def _xmp_bytes(stream: generic.StreamObject) -> bytes:
    """The decoded packet, within `MAX_XMP_BYTES` both ways."""
    if len(stream.encoded_data) > MAX_XMP_BYTES:
        raise ValueError(f"the XMP metadata is larger than {MAX_XMP_BYTES} bytes")
    data = stream.read_data(DecodePurpose.XMP_METADATA)  # pyHanko's decoding limits for XMP apply
    if len(data) > MAX_XMP_BYTES:
        raise ValueError(f"the XMP metadata is larger than {MAX_XMP_BYTES} bytes")
    return data


def _leaves(element: etree._Element, prop: str = "", path: str = "") -> Iterator[Leaf]:
    """Attribute and text leaves below `element`, each under its property (the first element or
    attribute below an rdf:Description), producer and dates left out."""
    for name, value in element.attrib.items():
        if name not in IGNORED_XMP:
            yield (prop or _short(element, name), path, value)
    children = [child for child in element if isinstance(child.tag, str)]
    if not children and (element.text or "").strip() and element.tag not in IGNORED_XMP:
        yield (prop or _short(element, element.tag), path, element.text.strip())
    for child in children:
        if child.tag in IGNORED_XMP:
            continue
        inside = prop or (_short(child, child.tag) if element.tag == f"{{{_RDF}}}Description" else "")
        yield from _leaves(child, inside, f"{path}/{_short(child, child.tag)}")


def _short(element: etree._Element, name: str) -> str:
    """`prefix:local` for a `{namespace}local` name."""
    if not name.startswith("{"):
        return name
    namespace, local = name[1:].split("}", 1)
    prefix = next((p for p, ns in element.nsmap.items() if ns == namespace and p), None)
    return f"{prefix}:{local}" if prefix else local


def _xmp_changes(before: Counter[Leaf], after: Counter[Leaf]) -> list[str]:
    return sorted({leaf[0] for leaf in (before - after) + (after - before)})
