"""The platform's code location: assets, checks, sensors and commands (see README)."""

import os

# Ray reads this once, when it is imported, so it is set before any of this package imports Ray.
# Unset, a Ray driver under `uv run` (`make up`, `make test`) has Ray ship the working directory
# to every worker and start each through `uv run`, in a virtualenv built and byte-compiled for
# it (~35 CPU-seconds per Ray start, measured in CI), and refuse to start outside the project's
# root. The workers run in this same environment: nothing needs shipping.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
