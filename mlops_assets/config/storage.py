"""Where the lake lives: a local folder, or any fsspec URL (`s3://bucket/prefix/lake`).

`MLOPS_LAKE` (through the profile's `lake: ${MLOPS_LAKE:-}`), else the profile's `lake` key, else
`<home>/lake`. A local location is a `pathlib.Path`, handled exactly as before; a URL is a
`UPath` whose filesystem takes its options from the environment: the standard `AWS_*` variables
for S3 (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
or a role), or fsspec's config (`FSSPEC_S3_ENDPOINT_URL`, ...). Never from a file of ours or from
Dagster run config.
"""

from __future__ import annotations

import os
from pathlib import Path

from upath import UPath

LOCAL_PROTOCOLS = ("", "file", "local")


def as_location(location: str | os.PathLike) -> Path | UPath:
    """A lake location: a local path (or `file://` URL) as a `Path`, any other URL as a `UPath`
    that never caches listings (other processes and machines write the same lake)."""
    path = UPath(location)
    if path.protocol not in LOCAL_PROTOCOLS:
        return UPath(location, use_listings_cache=False)
    return Path(path.path if path.protocol else os.fspath(location)).expanduser().resolve()


def lake_location(home: Path, configured: str | None) -> Path | UPath:
    """The lake root: the profile's `lake` (`configured`), else `<home>/lake`."""
    return as_location(configured) if configured else home / "lake"


def is_local(path: Path | UPath) -> bool:
    return isinstance(path, Path)


def scan_options(location: UPath) -> dict[str, str] | None:
    """polars' own storage options for reading objects under `location` lazily: the endpoint and
    credentials its fsspec filesystem was given (polars reads the `AWS_*` variables itself).
    None beyond S3: polars infers them for other stores."""
    if location.protocol not in ("s3", "s3a"):
        return None
    fs = location.fs
    endpoint = (
        fs.endpoint_url
        or fs.client_kwargs.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    options = {
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true" if endpoint and endpoint.startswith("http://") else None,
        "aws_access_key_id": fs.key,
        "aws_secret_access_key": fs.secret,
        "aws_session_token": fs.token,
    }
    return {k: v for k, v in options.items() if v} or None


def readable(path: Path | UPath) -> Path | bytes:
    """What polars reads: a local file itself, an object's bytes (one GET)."""
    return path if is_local(path) else path.fs.cat_file(path.path)
