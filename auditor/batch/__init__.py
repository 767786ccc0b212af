"""After an incident: scan many videos (or read an alert log) and write one signed report folder
per detection, resumably, with an append-only ledger and an index.

`inputs` (what a batch is given, unit keys; no TensorFlow), `tasks` (what workers run),
`executors` (this process, local processes, Dask), `run` (the coordinating process: `run_batch`).
"""
