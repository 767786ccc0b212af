"""The archive of a batch run in its output folder OUT.

```
OUT/ledger.jsonl        append-only, hash-chained ledger (only the coordinating process writes it)
OUT/index.csv, .html    every detection with its status and report link
OUT/scans/<key>.jsonl   scan results, each registered in the ledger as one file
OUT/reports/<name>/     signed report folders, each registered with every file in it
OUT/.staging/           the coordinator's temporary folders (never registered)
```

Modules: `ledger` (the chain: append, read, check) and `index` (index.csv and index.html); import
from them (this package imports nothing, so that `verify` does not load the index's Jinja and video code).
"""
