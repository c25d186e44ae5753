"""Pure computation over polars frames: no Dagster, no I/O beyond reading a named file."""
