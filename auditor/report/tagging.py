"""What the report's structure tree needs beyond WeasyPrint's tagging.

- **Header cells' scope.** WeasyPrint links each data cell (`/TD`) to its header cells (`/TH`)
  through `/Headers`, treating a `<th>` as a row header only when it says `scope="row"`. The
  templates' two-column fact tables put the label of each row in a `<th>`: a header cell without
  a scope gets "row" when its row holds data cells and "col" otherwise (a row of column heads),
  before the PDF is written; each `/TH` then states its `/Scope` (PDF/UA).
- **Page headers and footers as artifacts.** WeasyPrint marks the text of the page margin boxes
  (report id, "Page N of M") with MCIDs but leaves their elements out of the tree (PDF 1.7 has no
  artifact elements): `margins_as_artifacts` marks that content `/Artifact` (`/Pagination`) and
  drops it from the parent tree, so every piece of content is either tagged or an artifact.
- **PDF/UA identification.** WeasyPrint's `pdf/a-3a` variant writes the PDF/A identification only;
  `declare_pdf_ua` adds `pdfuaid:part` and the PDF/A extension schema that PDF/A-3 asks for a
  property outside its predefined schemas.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pydyf
import weasyprint

from auditor.errors import ReportError

PDFUA_PART = "1"
PDFUA_XMP = (
    f'<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" pdfuaid:part="{PDFUA_PART}"/>'
    '<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
    ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
    '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
    '<pdfaSchema:schema>PDF/UA identification schema</pdfaSchema:schema>'
    '<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>'
    '<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>'
    '<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">'
    '<pdfaProperty:name>part</pdfaProperty:name><pdfaProperty:valueType>Integer</pdfaProperty:valueType>'
    '<pdfaProperty:category>internal</pdfaProperty:category>'
    '<pdfaProperty:description>Part of ISO 14289 the document conforms to</pdfaProperty:description>'
    '</rdf:li></rdf:Seq></pdfaSchema:property></rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>'
)


def scope_header_cells(document: weasyprint.Document) -> None:
    """Give every `<th>` of the laid-out document without a `scope` the scope its row implies."""
    for row in _boxes(document, "tr"):
        cells = [cell for cell in row.children if getattr(cell, "element_tag", None) in ("th", "td")]
        scope = "row" if any(cell.element_tag == "td" for cell in cells) else "col"
        for cell in cells:
            if cell.element_tag == "th" and not cell.element.get("scope"):
                cell.element.set("scope", scope)


def mark_header_scopes(document: weasyprint.Document) -> None:
    """Finisher step: each `/TH` element states its `/Scope` (WeasyPrint keeps it as `box.mark`)."""
    for cell in _boxes(document, "th"):
        element = getattr(cell, "mark", None)
        if isinstance(element, pydyf.Dictionary) and isinstance(element.get("A"), pydyf.Dictionary):
            element["A"]["Scope"] = "/Row" if cell.element.get("scope") == "row" else "/Column"


def declare_pdf_ua(pdf: pydyf.PDF) -> None:
    """Add `pdfuaid:part` (and its PDF/A extension schema) to the XMP packet WeasyPrint wrote."""
    metadata = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]  # a reference, b"N 0 R"
    packet = b"".join(part if isinstance(part, bytes) else str(part).encode() for part in metadata.stream)
    if packet.count(b"</rdf:RDF>") != 1:
        raise ReportError("WeasyPrint wrote an XMP packet without one rdf:RDF; cannot declare PDF/UA")
    metadata.stream = [packet.replace(b"</rdf:RDF>", PDFUA_XMP.encode() + b"</rdf:RDF>")]


def margins_as_artifacts(pdf: pydyf.PDF) -> None:
    """Finisher step: content whose structure element is not in the tree becomes `/Artifact`
    (nothing to do in an untagged PDF)."""
    if "StructTreeRoot" not in pdf.catalog:
        return
    root = _object(pdf, pdf.catalog["StructTreeRoot"])
    in_tree = _elements_in_tree(pdf, root)
    numbers = _object(pdf, root["ParentTree"])["Nums"]
    pages = [pdf.objects[int(number)] for number in pdf.pages["Kids"][::3]]
    for index, page in enumerate(pages):
        refs = numbers[2 * index + 1]
        loose = {mcid for mcid, ref in enumerate(refs) if id(_object(pdf, ref)) not in in_tree}
        if not loose:
            continue
        content = _object(pdf, page["Contents"]).stream
        for position, item in enumerate(content[:-1]):
            if isinstance(item, pydyf.Dictionary) and item.get("MCID") in loose and content[position + 1] == b"BDC":
                content[position - 1] = "/Artifact"
                content[position] = pydyf.Dictionary({"Type": "/Pagination"})
        for mcid in loose:
            refs[mcid] = "null"


def _elements_in_tree(pdf: pydyf.PDF, root: pydyf.Dictionary) -> set[int]:
    """The ids of the structure elements reachable from the structure tree root."""
    found: set[int] = set()
    stack = [root]
    while stack:
        kids = stack.pop().get("K", ())
        for kid in kids if isinstance(kids, (list, pydyf.Array)) else [kids]:
            element = _object(pdf, kid) if isinstance(kid, (bytes, str)) else None
            if isinstance(element, pydyf.Dictionary) and element.get("Type") == "/StructElem" and id(element) not in found:
                found.add(id(element))
                stack.append(element)
    return found


def _object(pdf: pydyf.PDF, reference: object) -> Any:
    """The object an indirect reference (b"12 0 R") names."""
    match = re.fullmatch(rb"(\d+) 0 R", reference if isinstance(reference, bytes) else str(reference).encode())
    if match is None:
        raise ReportError(f"not a reference to a PDF object: {reference!r}")
    return pdf.objects[int(match.group(1))]


def _boxes(document: weasyprint.Document, tag: str) -> Iterator[Any]:
    """The layout boxes of elements `tag`, page by page, in document order."""
    stack = [page._page_box for page in reversed(document.pages)]
    while stack:
        box = stack.pop()
        if box.element is not None and getattr(box, "element_tag", None) == tag:
            yield box
        stack.extend(reversed(getattr(box, "children", ())))
