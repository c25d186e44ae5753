"""The Ray Serve application that serves the champion (see the serving issue)."""

import os

# Before Ray is imported: see mlops_assets/__init__.py (Ray ships nothing to its workers).
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
