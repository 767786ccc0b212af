"""What the report's structure tree needs beyond WeasyPrint's tagging.

- **Header cells' scope.** WeasyPrint links each data cell (`/TD`) to its header cells (`/TH`)
  through `/Headers`, treating a `<th>` as a row header only when it says `scope="row"`. The
  templates' two-column fact tables put the label of each row in a `<th>`: a header cell without
  a scope gets "row" when its row holds data cells and "col" otherwise (a row of column heads),
  before the PDF is written; each `/TH` then states its `/Scope` (PDF/UA).
- **PDF/UA identification.** WeasyPrint's `pdf/a-3a` variant writes the PDF/A identification only;
  `declare_pdf_ua` adds `pdfuaid:part` and the PDF/A extension schema that PDF/A-3 asks for a
  property outside its predefined schemas.
"""

from __future__ import annotations

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


def _boxes(document: weasyprint.Document, tag: str) -> Iterator[Any]:
    """The layout boxes of elements `tag`, page by page, in document order."""
    stack = [page._page_box for page in reversed(document.pages)]
    while stack:
        box = stack.pop()
        if box.element is not None and getattr(box, "element_tag", None) == tag:
            yield box
        stack.extend(reversed(getattr(box, "children", ())))
