"""The report folder: the one place that names its files.

```
<report>/
  evidence.json (+ .p7s)   the evidence record
  arrays.npz               raw maps and scores
  images/*.jpg, *.png      what the report shows (pictures of frames JPEG, drawn graphics PNG)
  clip.webm                the explained window with context, faces masked (VP9 in WebM)
  clip-heatmap.webm        the same frames with the Grad-CAM overlay on the window's
  report.html (+ .p7s)     the HTML report; it shows the pictures of images/ (open it in its folder)
  report.pdf               PDF/A-3b, PAdES-sealed, record and clip.webm embedded
  manifest.json (+ .p7s)   every file above with its size and SHA-256, signed
  review-N.json (+ .p7s)   review slot N, as signed into report.pdf (after the seal)
  submissions/             what the person concerned submitted, and the answers:
    submission-N.json, answer-N.json (+ .p7s), attachments/N-NAME
```
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

RECORD_NAME = "evidence.json"
ARRAYS_NAME = "arrays.npz"
IMAGES_DIR = "images"
JPEG_SUFFIX = ".jpg"
PNG_SUFFIX = ".png"
IMAGE_MEDIA_TYPES = {JPEG_SUFFIX: "image/jpeg", PNG_SUFFIX: "image/png"}
CLIP_NAME = "clip.webm"
CLIP_HEATMAP_NAME = "clip-heatmap.webm"
CLIP_MEDIA_TYPE = "video/webm"
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


def image_media_type(path: str) -> str:
    """The media type of a picture by its file name (a report's pictures are JPEG or PNG)."""
    return IMAGE_MEDIA_TYPES.get(PurePosixPath(path).suffix.lower(), "application/octet-stream")
