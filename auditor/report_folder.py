"""The report folder: the one place that names its files.

```
<report>/
  evidence.json (+ .p7s)   the evidence record
  arrays.npz               raw maps and scores
  images/*.png             what the report shows
  report.html (+ .p7s)     the self-contained HTML report
  report.pdf               PDF/A-3b, PAdES-sealed, record embedded
  manifest.json (+ .p7s)   every file above with its size and SHA-256, signed
  review-N.json (+ .p7s)   review slot N, as signed into report.pdf (after the seal)
  submissions/             what the person concerned submitted, and the answers:
    submission-N.json, answer-N.json (+ .p7s), attachments/N-NAME
```
"""

from __future__ import annotations

import re

RECORD_NAME = "evidence.json"
ARRAYS_NAME = "arrays.npz"
IMAGES_DIR = "images"
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"
MANIFEST_NAME = "manifest.json"
SIGNATURE_SUFFIX = ".p7s"
REVIEW_FILE = re.compile(r"^review-([1-9][0-9]{0,2})\.json$")
SUBMISSIONS_DIR = "submissions"
ATTACHMENTS_DIR = "attachments"


def review_name(slot: int) -> str:
    """The file of review slot `slot` beside the report."""
    return f"review-{slot}.json"


def entry_name(kind: str, number: int) -> str:
    """In SUBMISSIONS_DIR: `submission-N.json` (kind "submission") or `answer-N.json` ("answer")."""
    return f"{kind}-{number}.json"


def attachment_name(number: int, name: str) -> str:
    """The file of one attachment of submission `number`, in SUBMISSIONS_DIR/ATTACHMENTS_DIR."""
    return f"{number}-{name}"
