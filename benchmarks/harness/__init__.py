"""The pieces of ``benchmarks/run.py``: the task table (``tasks``), what runs inside a measured
process (``children``, standard library only at module level: it runs in either environment), the
Rust CLIs (``peers``), the measuring parent (``measure``, ``datasets``) and ``RESULTS.md``
(``report``, ``targets``)."""
