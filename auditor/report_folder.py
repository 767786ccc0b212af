"""The report folder: the one place that names its files.

```
<report>/
  evidence.json (+ .p7s)   the evidence record
  arrays.npz               raw maps and scores
  images/*.png             what the report shows
  report.html (+ .p7s)     the self-contained HTML report
  report.pdf               PDF/A-3b, PAdES-sealed, record embedded
  manifest.json (+ .p7s)   every file above with its size and SHA-256, signed
```
"""

from __future__ import annotations

RECORD_NAME = "evidence.json"
ARRAYS_NAME = "arrays.npz"
IMAGES_DIR = "images"
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"
MANIFEST_NAME = "manifest.json"
SIGNATURE_SUFFIX = ".p7s"
