"""dev / test / prod profiles: tracking URI, registry name suffix and serving settings.

`MLOPS_ENV` picks the profile (default `dev`); `MLOPS_PROFILES` may point at another YAML file
with the same shape. `${VAR}` in a value comes from the environment (and `${MLOPS_HOME}` is the
home folder); a variable that is not set is an error naming it, unless a default follows it as in
`${VAR:-default}` (an empty default leaves the key unset).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).parent / "profiles.yaml"
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class EnvironmentProfile:
    name: str
    tracking_uri: str
    registry_suffix: str
    artifact_location: str | None = None
    dagster_storage: str | None = None  # a postgresql:// URL; None: SQLite under the home
    lake: str | None = None  # a folder or an fsspec URL (s3://bucket/prefix); None: <home>/lake
    serving: dict = field(default_factory=dict)
    # the environment variables that hold the tracking URI and the Dagster storage URL, when
    # the profile names one (`${VAR}`): these may carry a password, so that definitions and
    # dagster.yaml refer to the variable rather than copy its value
    tracking_uri_env: str | None = None
    dagster_storage_env: str | None = None

    def registry_name(self, dataset: str) -> str:
        return registered_model_name(dataset, self.registry_suffix)


def registered_model_name(dataset: str, registry_suffix: str) -> str:
    """The registered model name of a dataset in a profile: `<dataset>-<suffix>`."""
    return f"{dataset}-{registry_suffix}"


def load_profile(
    home: Path, name: str | None = None, path: str | None = None
) -> EnvironmentProfile:
    """The profile `name` (else $MLOPS_ENV, else dev) from `path` (else $MLOPS_PROFILES)."""
    name = name or os.environ.get("MLOPS_ENV") or "dev"
    source = Path(path or os.environ.get("MLOPS_PROFILES") or DEFAULT_FILE)
    profiles = yaml.safe_load(source.read_text()) or {}
    if name not in profiles:
        raise ValueError(f"profile {name!r} is not in {source} (has: {', '.join(profiles)})")
    raw = profiles[name]

    def expand(value: str) -> str:
        def one(match: re.Match) -> str:
            var = match.group(1)
            if var == "MLOPS_HOME":
                return str(home)
            if var not in os.environ and match.group(2) is not None:
                return match.group(2)
            if var not in os.environ:
                raise ValueError(f"profile {name!r} in {source} needs ${{{var}}}, which is not set")
            return os.environ[var]

        return _VAR.sub(one, value)

    known = {"tracking_uri", "registry_suffix", "artifact_location", "dagster_storage"}
    known |= {"serving", "lake"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"profile {name!r} in {source}: unknown key {sorted(unknown)[0]!r}")
    artifacts, storage = raw.get("artifact_location"), raw.get("dagster_storage")
    artifacts, storage = expand(artifacts or ""), expand(storage or "")
    if storage and not storage.startswith("postgres"):
        raise ValueError(f"profile {name!r} in {source}: dagster_storage needs a postgresql:// URL")
    return EnvironmentProfile(
        name=name,
        tracking_uri_env=_whole_variable(raw["tracking_uri"]),
        dagster_storage_env=_whole_variable(raw.get("dagster_storage") or "") if storage else None,
        tracking_uri=expand(raw["tracking_uri"]),
        registry_suffix=raw["registry_suffix"],
        artifact_location=artifacts or None,
        dagster_storage=storage or None,
        serving=raw.get("serving", {}),
        lake=expand(raw.get("lake") or "") or None,
    )


def _whole_variable(value: str) -> str | None:
    """`NAME` when `value` is exactly `${NAME}` (or `${NAME:-default}`) and NAME is set."""
    match = _VAR.fullmatch(value.strip())
    return match.group(1) if match and match.group(1) in os.environ else None
