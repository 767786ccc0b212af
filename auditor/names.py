"""The one place that names the report folder's files, the SHA-256 and relative-path types, and
the size of a record.

```
<report>/
  evidence.json (+ .p7s)   the evidence record
  arrays.npz               raw maps and scores
  images/*.jpg, *.png      what the report shows (pictures of frames JPEG, drawn graphics PNG)
  clip.webm                the explained window with context, faces masked (VP9 in WebM)
  clip-heatmap.webm        the same frames with the Grad-CAM overlay on the window's
  report.html (+ .p7s)     the HTML report; it shows the pictures of images/ (open it in its folder)
  report.pdf               tagged PDF/A-3a (and PDF/UA-1), PAdES-sealed, record and clip.webm embedded
  manifest.json (+ .p7s)   every file above with its size and SHA-256, signed
  review-N.json (+ .p7s)   review slot N, as signed into report.pdf (after the seal)
  submissions/             what the person concerned submitted, and the answers:
    submission-N.json, answer-N.json (+ .p7s), attachments/N-NAME
```
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Final

from pydantic import Field

MiB: Final = 1 << 20
# evidence.json wherever it is read (loading, binding a submission, the PDF's decode budget): a
# record is hostile input and rendering cost grows with its size (DESIGN §6)
MAX_RECORD_BYTES: Final = 16 * MiB

SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"  # a SHA-256 in lower-case hex
PATH_SEGMENT: Final = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}"  # one file name: no "..", no hidden names, no "/"
RELATIVE_PATH_PATTERN: Final = rf"^{PATH_SEGMENT}(/{PATH_SEGMENT})*$"  # POSIX, inside a folder: no "/x", no ".."
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]
RelativePath = Annotated[str, Field(pattern=RELATIVE_PATH_PATTERN)]

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
