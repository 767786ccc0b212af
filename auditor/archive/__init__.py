"""The archive of a batch run in its output folder OUT.

```
OUT/ledger.jsonl        append-only, hash-chained ledger (only the coordinating process writes it)
OUT/index.csv, .html    every detection with its status and report link
OUT/scans/<key>.jsonl   scan results, each registered in the ledger as one file
OUT/reports/<name>/     signed report folders, each registered with every file in it
OUT/.staging/           the coordinator's temporary folders (never registered)
```

Modules: `chain` (the entry model and reading the chain), `ledger` (appending, the coordinator only),
`check` (each entry's files against the disk) and `index` (index.csv and index.html).
"""

from __future__ import annotations

from auditor.archive.chain import LEDGER_NAME, LedgerEntry
from auditor.archive.check import LedgerCheck, check_ledger
from auditor.archive.index import IndexRow, read_index, registered_row, write_index
from auditor.archive.ledger import Ledger

__all__ = ["LEDGER_NAME", "IndexRow", "Ledger", "LedgerCheck", "LedgerEntry", "check_ledger", "read_index", "registered_row", "write_index"]
