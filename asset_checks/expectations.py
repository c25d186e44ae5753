"""Great Expectations 1.x as its users know it: a file Data Context under the home (`<home>/gx`),
one saved suite, validation definition and checkpoint per checked asset, validation results
kept, and Data Docs built for every validation (linked from the checks' metadata).

Suites are described as plain `Expect` tuples (a GX class name and its arguments), so that they
can be built and inspected without importing GX (~10 s: imported on first use, once per
process). What a suite learns from history is a `Param`: a `$PARAMETER` in the saved suite, its
value passed when the checkpoint runs, so that the saved suite changes only with the spec.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from asset_checks.data_docs_site import DATA_DOCS_SITE, SITE, data_docs_folder, docs_link, gx_folder


@dataclass(frozen=True)
class Param:
    """A value known only when the suite runs (e.g. learned from history)."""

    name: str
    value: Any


@dataclass(frozen=True)
class Expect:
    """One expectation: the GX class name (e.g. `ExpectColumnValuesToBeUnique`) and kwargs,
    some of which may be `Param`s."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        column = self.kwargs.get("column")
        return f"{self.kind}({column})" if column else self.kind

    def saved(self) -> dict[str, Any]:
        """The kwargs as the saved suite holds them: each `Param` as a `$PARAMETER`."""
        return {
            k: {"$PARAMETER": v.name} if isinstance(v, Param) else v for k, v in self.kwargs.items()
        }

    def key(self) -> str:
        """Equal for equal expectations (a GX suite keeps one of them)."""
        return repr((self.kind, self.saved()))


@dataclass(frozen=True)
class Suite:
    """The checks of one asset (check name -> expectations), saved in GX under `name`."""

    name: str
    checks: dict[str, list[Expect]]

    def expectations(self) -> list[Expect]:
        return [e for expects in self.checks.values() for e in expects]

    def parameters(self) -> dict[str, Any]:
        """The values of the suite's `Param`s; one name with two values is an error."""
        values: dict[str, Any] = {}
        for p in (v for e in self.expectations() for v in e.kwargs.values()):
            if isinstance(p, Param) and values.setdefault(p.name, p.value) != p.value:
                raise ValueError(f"suite {self.name}: parameter {p.name} has two values")
        return values


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation on one frame."""

    expect: Expect
    success: bool
    observed: dict[str, Any]

    def summary(self) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in self.observed.items())
        return f"{'ok' if self.success else 'FAILED'} {self.expect.label}: {detail}"


@dataclass(frozen=True)
class Validation:
    """A suite's outcomes on one frame (check name -> outcomes) and its Data Docs page."""

    outcomes: dict[str, list[Outcome]]
    docs_url: str


_OBSERVED_KEYS = (
    "observed_value",
    "details",
    "unexpected_count",
    "unexpected_percent",
    "partial_unexpected_list",
)


def validate(
    frame: pl.DataFrame, suite: Suite, home: Path, run_name: str, keep: int = 0
) -> Validation:
    """Run `suite`'s checkpoint on `frame` (saving the suite first if it changed), keep the
    result under `run_name` (e.g. the partition) and build its Data Docs page. Only the latest
    `keep` results of the suite stay (0: all): GX removes a page with its result."""
    import great_expectations as gx

    home = Path(home).resolve()
    with _locked(home):  # the saved suite stays the one this run checked (GX checks it is fresh)
        context, checkpoint = _checkpoint(home, suite)
        result = checkpoint.run(
            batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=True)},
            expectation_parameters=suite.parameters(),
            run_id=gx.RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC)),
        )
        _forget_old_results(context, suite.name, keep)
    (key, validation), *_ = result.run_results.items()
    by_index = {r.expectation_config.meta["index"]: r for r in validation.results}
    index_of = _indices(suite.expectations())
    outcomes: dict[str, list[Outcome]] = {name: [] for name in suite.checks}
    for name, expects in suite.checks.items():
        for expect in expects:
            outcomes[name].append(_outcome(expect, by_index[index_of[expect.key()]]))
    (site,) = context.get_docs_sites_urls(resource_identifier=key, site_name=SITE)
    page = site["site_url"] or (data_docs_folder(home) / "index.html").as_uri()  # None: not built
    return Validation(outcomes, docs_link(page, home))


def _indices(expectations: list[Expect]) -> dict[str, int]:
    """A suite keeps one of several equal expectations: each distinct one gets an index (kept in
    its `meta`) through which the results map back."""
    index_of: dict[str, int] = {}
    for e in expectations:
        index_of.setdefault(e.key(), len(index_of))
    return index_of


def _outcome(expect: Expect, r) -> Outcome:
    observed = {k: _plain(r.result[k]) for k in _OBSERVED_KEYS if k in r.result}
    if "partial_unexpected_list" in observed:
        observed["partial_unexpected_list"] = observed["partial_unexpected_list"][:5]
    if r.exception_info and r.exception_info.get("raised_exception"):
        observed["error"] = r.exception_info.get("exception_message")
    return Outcome(expect, bool(r.success), observed)


def _forget_old_results(context, suite_name: str, keep: int) -> None:
    """Remove all but the latest `keep` validation results of the suite from the store: GX lists
    every kept result at each Data Docs build, and the next build removes their pages."""
    if keep <= 0:
        return
    store = context.validation_results_store
    kept = sorted(
        (k for k in store.list_keys() if k.expectation_suite_identifier.name == suite_name),
        key=lambda k: k.run_id.run_time,
    )
    for key in kept[:-keep]:
        store.remove_key(key)


def _fingerprint(suite: Suite) -> str:
    keys = [e.key() for e in suite.expectations()]
    return hashlib.sha256(repr(keys).encode()).hexdigest()[:16]


def _checkpoint(home: Path, suite: Suite):
    """The context and the saved checkpoint of `suite`: created, or updated when the suite's
    expectations changed (not its parameters). Call under `_locked`."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    fingerprint = _fingerprint(suite)
    context = _context(home)
    try:  # the one checkpoint read (`all()` reads every suite's)
        saved = context.checkpoints.get(suite.name)
    except DataContextError:  # not saved yet
        saved = None
    if saved and saved.validation_definitions[0].suite.meta.get("fingerprint") == fingerprint:
        return context, saved
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(
            name=suite.name,
            data=_batch_definition(context, suite.name),
            suite=context.suites.add_or_update(_gx_suite(suite, fingerprint)),
        )
    )
    checkpoint = gx.Checkpoint(
        name=suite.name,
        validation_definitions=[definition],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE])],
        # BASIC: the fields read here, without SUMMARY's value counts (~35% faster)
        result_format="BASIC",
    )
    return context, context.checkpoints.add_or_update(checkpoint)


def _gx_suite(suite: Suite, fingerprint: str):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    saved = gx.ExpectationSuite(name=suite.name, meta={"fingerprint": fingerprint})
    index_of = _indices(suite.expectations())
    for e in suite.expectations():
        index = index_of.pop(e.key(), None)
        if index is not None:
            saved.add_expectation(getattr(gxe, e.kind)(**e.saved(), meta={"index": index}))
    return saved


def _batch_definition(context, name: str):
    """The whole-frame batch of the dataframe asset `name` (a frame passed at run time)."""
    sources = context.data_sources.all()
    source = sources.get("partitions") or context.data_sources.add_pandas("partitions")
    asset = next((a for a in source.assets if a.name == name), None)
    asset = asset or source.add_dataframe_asset(name)
    return next(iter(asset.batch_definitions), None) or (
        asset.add_batch_definition_whole_dataframe("partition")
    )


_CONTEXTS: dict[Path, tuple[int, Any]] = {}


def _context(home: Path):
    """The file Data Context under `home` (progress bars and analytics off, its `local_site` the
    site of `DATA_DOCS_SITE`, other sites kept), created on first use; reloaded when another
    process changed its configuration (data assets are added there). Call under `_locked`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    config = gx_folder(home) / "great_expectations.yml"
    stamp = config.stat().st_mtime_ns if config.exists() else 0
    if home in _CONTEXTS and _CONTEXTS[home][0] == stamp:
        return _CONTEXTS[home][1]
    context = gx.get_context(mode="file", project_root_dir=str(home))
    variables = context.variables
    bars = variables.progress_bars  # a dict once loaded, a ProgressBarsConfig when set
    bars_on = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if (
        bars_on is not False
        or (variables.data_docs_sites or {}).get(SITE) != DATA_DOCS_SITE
        or variables.analytics_enabled is not False
    ):
        variables.progress_bars = ProgressBarsConfig(globally=False)
        variables.data_docs_sites = {**(variables.data_docs_sites or {}), SITE: DATA_DOCS_SITE}
        variables.analytics_enabled = False
        variables.save()
        context = gx.get_context(mode="file", project_root_dir=str(home))
    _CONTEXTS[home] = (config.stat().st_mtime_ns, context)
    return context


@contextlib.contextmanager
def _locked(home: Path):
    """The home's GX context to itself: runs of other processes change it too."""
    gx_folder(home).mkdir(parents=True, exist_ok=True)
    with open(gx_folder(home) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_plain(v) for v in value[:30]]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value if isinstance(value, int | str | bool | type(None)) else str(value)
