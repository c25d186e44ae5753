"""The dataset spec: a small YAML file that describes any tabular binary-classification source.

`load_spec` parses it into a typed, validated `DatasetSpec`. Every problem is reported as a
`SpecError` whose message names the file and the key. The YAML is read with YAML 1.2's booleans
(only `true`/`false`): `Yes`, `No`, `on`, `off` stay the text the user wrote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mlops_assets.config.sections import (
    column_list,
    columns_or_auto,
    parse_date,
    parse_decision,
    parse_experiments,
    parse_gates,
    parse_model,
    parse_monitoring,
    parse_owners,
    parse_quality,
    parse_serving,
    parse_value,
    read_section,
)
from mlops_assets.config.spec_types import (
    FORMATS,
    DatasetSpec,
    Experiments,
    Gates,
    ModelChoice,
    Monitoring,
    Quality,
    Serving,
    SpecError,
    Target,
    Value,
)

# the spec's types, for the modules that read a spec
__all__ = ["DatasetSpec", "Monitoring", "SpecError", "Value", "load_spec", "parse_spec"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


_REQUIRED = ("name", "landing", "format", "target", "decision", "value")
_OPTIONAL = (
    "id_column",
    "outcomes",
    "features",
    "categorical",
    "segments",
    "protected",
    "start_date",
    "quality",
    "gates",
    "model",
    "serving",
    "monitoring",
    "experiments",
    "owners",
)
_SECTIONS = {
    "target": ({"column", "positive"}, {"delay_days"}),
    "decision": ({"action", "otherwise", "threshold"}, {"selective_labels"}),
    "value": (
        {"action_positive", "action_negative", "otherwise_positive", "otherwise_negative"},
        set(),
    ),
    "quality": (set(), set(Quality.__dataclass_fields__)),
    "gates": (set(), set(Gates.__dataclass_fields__)),
    "model": (set(), set(ModelChoice.__dataclass_fields__)),
    "serving": (set(), set(Serving.__dataclass_fields__)),
    "monitoring": (set(), set(Monitoring.__dataclass_fields__)),
    "experiments": (set(), set(Experiments.__dataclass_fields__)),
}


def load_spec(path: str | Path, home: str | Path | None = None) -> DatasetSpec:
    """Read and validate a dataset spec.

    Relative paths are relative to the spec file's folder; `${MLOPS_HOME}` in a path is replaced
    by `home` (the built-in simulator's spec lands its files under the home folder).
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"dataset spec {path}: no such file")
    try:
        raw = yaml.load(path.read_text(), Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise SpecError(f"dataset spec {path}: not valid YAML ({exc})") from exc
    return parse_spec(raw, base=path.parent, home=home, source=path)


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true/false, not yes/no/on/off."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _labels(raw, target_raw: dict, resolve, fail) -> tuple[Target, Path | None, str | None]:
    """The target, the outcomes folder (when labels arrive later) and the id column."""
    delay = target_raw.get("delay_days", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise fail("target.delay_days", f"{delay!r} must be a whole number of days >= 0")
    if not isinstance(target_raw["column"], str):
        raise fail("target.column", "must be a column name")
    target = Target(column=target_raw["column"], positive=target_raw["positive"], delay_days=delay)

    outcomes = resolve("outcomes") if raw.get("outcomes") is not None else None
    if delay > 0 and outcomes is None:
        raise fail("outcomes", f"required when target.delay_days is {delay} (labels arrive later)")
    if delay == 0 and outcomes is not None:
        raise fail("outcomes", "only allowed when target.delay_days > 0")
    id_column = raw.get("id_column")
    if id_column is not None and not isinstance(id_column, str):
        raise fail("id_column", "must be a column name")
    if delay > 0 and id_column is None:
        raise fail("id_column", "required when labels arrive later: outcomes are joined by it")
    return target, outcomes, id_column


def _columns(raw, id_column, target: Target, fail) -> tuple:
    """`features` and `categorical` (None: inferred from the data), checked against each other."""
    features = columns_or_auto(raw, "features", fail)
    categorical = columns_or_auto(raw, "categorical", fail)
    reserved = {c for c in (id_column, target.column) if c}
    for key, cols in (("features", features), ("categorical", categorical)):
        clash = sorted(reserved & set(cols or ()))
        if clash:
            raise fail(key, f"must not contain the id or target column {clash[0]!r}")
    if features is not None and categorical is not None:
        extra = sorted(set(categorical) - set(features))
        if extra:
            raise fail("categorical", f"{extra[0]!r} is not listed in 'features'")
    return features, categorical


def parse_spec(
    raw: Any, base: Path, home: str | Path | None = None, source: Path | None = None
) -> DatasetSpec:
    """Validate an already-parsed YAML mapping (see `load_spec`)."""
    where = f"dataset spec {source}" if source else "dataset spec"

    def fail(key: str, problem: str) -> SpecError:
        return SpecError(f"{where}: key '{key}': {problem}")

    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise fail(unknown[0], f"unknown key (allowed: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if raw.get(key) is None:
            raise fail(key, "missing required key")
    sections = {name: read_section(raw, name, *keys, fail) for name, keys in _SECTIONS.items()}

    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(
            "name", f"{name!r} must be lowercase letters, digits or '_', starting with a letter"
        )
    fmt = raw["format"]
    if fmt not in FORMATS:
        raise fail("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")

    def resolve(key: str) -> Path:
        value = raw[key]
        if not isinstance(value, str) or not value:
            raise fail(key, "must be a path")
        if "${MLOPS_HOME}" in value:
            if home is None:
                raise fail(key, "uses ${MLOPS_HOME} but no home folder was given")
            value = value.replace("${MLOPS_HOME}", str(home))
        p = Path(value).expanduser()
        return (p if p.is_absolute() else base / p).resolve()

    target, outcomes, id_column = _labels(raw, sections["target"], resolve, fail)
    features, categorical = _columns(raw, id_column, target, fail)
    return DatasetSpec(
        name=name,
        landing=resolve("landing"),
        format=fmt,
        id_column=id_column,
        target=target,
        outcomes=outcomes,
        features=features,
        categorical=categorical,
        segments=column_list(raw, "segments", fail),
        protected=column_list(raw, "protected", fail),
        decision=parse_decision(sections["decision"], fail, target, sections["serving"]),
        value=parse_value(sections["value"], fail),
        start_date=parse_date(raw.get("start_date"), fail),
        quality=parse_quality(sections["quality"], fail),
        gates=parse_gates(sections["gates"], fail),
        model=parse_model(sections["model"], fail),
        serving=parse_serving(sections["serving"], fail),
        monitoring=parse_monitoring(sections["monitoring"], fail),
        experiments=parse_experiments(sections["experiments"], fail),
        owners=parse_owners(raw.get("owners"), fail),
        source=source,
    )
