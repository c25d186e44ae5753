import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import json

    import marimo as mo
    import matplotlib.pyplot as plt
    import numpy as np
    import polars as pl
    from matplotlib.colors import TwoSlopeNorm

    from mlops_assets.compute.ingest import DAY
    from mlops_assets.config.settings import Settings
    from mlops_assets.config.spec import load_spec
    from mlops_assets.defs.assets.plots import reliability_figure
    from mlops_assets.lake_access import load_asset

    return (
        DAY,
        Settings,
        TwoSlopeNorm,
        json,
        load_asset,
        load_spec,
        mo,
        np,
        pl,
        plt,
        reliability_figure,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # Exploring a dataset's lake

    What the platform holds for one dataset, read from the Parquet lake with
    `mlops_assets.lake_access.load_asset` (polars frames, JSON documents as dicts): data
    quality, drift, and the backtest behind the champion. The home folder and the dataset spec
    come from `MLOPS_HOME` and `MLOPS_DATASET` (default: the built-in lending simulator);
    nothing here writes.
    """)
    return


@app.cell
def _(DAY, Settings, load_asset, load_spec, mo):
    settings = Settings.resolve()  # or Settings.resolve(home="...", dataset="...")
    spec = load_spec(settings.dataset_spec, home=settings.home)

    def _lake(asset: str):
        return load_asset(asset, dataset=settings.dataset_spec, home=settings.home)

    raw, outcomes, drift = _lake("raw"), _lake("raw_outcomes"), _lake("drift_report")
    backtest, champion = _lake("backtest"), _lake("champion")
    mo.md(
        f"**{spec.name}** in `{settings.home}`: {raw.height:,} applications over "
        f"{raw[DAY].n_unique()} days ({raw[DAY].min()} to {raw[DAY].max()}), "
        f"{outcomes.height:,} outcomes; champion **v{champion['version']}**."
    )
    return backtest, champion, drift, outcomes, raw, settings, spec


@app.cell
def _(mo):
    mo.md(r"""
    ## Data quality

    Rows per day: applications land daily; their outcomes `target.delay_days` later, dated by
    the day they land. With selective labels (a lender sees repayments only of the loans it
    made), outcomes come only for approved applications and the control group once the
    platform decides.
    """)
    return


@app.cell
def _(DAY, mo, outcomes, plt, raw, spec):
    rows_per_day = (
        raw.group_by(DAY)
        .len("applications")
        .join(outcomes.group_by(DAY).len("outcomes"), on=DAY, how="full", coalesce=True)
        .sort(DAY)
    )
    _fig, _ax = plt.subplots(figsize=(9, 3))
    _ax.bar(rows_per_day[DAY], rows_per_day["applications"], color="C0", label="applications")
    _ax.plot(
        rows_per_day[DAY],
        rows_per_day["outcomes"],
        color="C1",
        marker=".",
        label=f"outcomes (landing {spec.target.delay_days} days later)",
    )
    _ax.set(ylabel="rows", title=f"{spec.name}: rows per day")
    _ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)
    _fig.tight_layout()
    mo.as_html(_fig)
    return


@app.cell
def _(DAY, mo, pl, raw):
    null_rates = (
        raw.group_by(DAY)
        .agg(pl.all().is_null().mean())
        .unpivot(index=DAY, variable_name="column", value_name="null_share")
        .group_by("column")
        .agg(
            pl.col("null_share").mean().round(4).alias("mean_daily_null_share"),
            pl.col("null_share").max().round(4).alias("worst_day_null_share"),
            pl.col(DAY).sort_by("null_share").last().alias("worst_day"),
        )
        .sort("worst_day_null_share", "column", descending=[True, False])
    )
    mo.vstack([mo.md("Null share per column: the daily mean and the worst day."), null_rates])
    return


@app.cell
def _(json, mo, pl, settings, spec):
    _folder = settings.quarantine / spec.name
    _reasons = sorted(_folder.glob("*.reason.json")) if _folder.exists() else []
    quarantined = pl.DataFrame(
        [json.loads(p.read_text()) for p in _reasons],
        schema={"file": pl.String, "reason": pl.String, "quarantined_at": pl.String},
    )
    mo.vstack(
        [
            mo.md(
                f"Quarantined landing files (`{_folder}`): {quarantined.height}. A rejected "
                "file is copied there with a `.reason.json` beside it."
            ),
            quarantined,
        ]
    )
    return


@app.cell
def _(mo):
    mo.md(r"""
    ## Drift

    Each day's features (and the champion's scores, `__score__`) are tested against a
    reference: a chi-square test of shape (effect: Cohen's w), a rank test of location, and
    tests of new nulls and unseen categories. `alpha` is the day's false-alarm budget split over
    its tests; a column is flagged when a test rejects and its effect clears a floor. PSI, KS,
    Wasserstein and Jensen-Shannon are reported beside, not decided on.
    """)
    return


@app.cell
def _(DAY, drift, mo, pl):
    _tests = {
        "shape": "p_shape",
        "location": "p_location",
        "nulls": "p_nulls",
        "unseen": "p_unseen",
    }
    flagged = (
        drift.filter("drifted")
        .with_columns(
            rejected=pl.concat_str(
                [pl.when(pl.col(p) < pl.col("alpha")).then(pl.lit(t)) for t, p in _tests.items()],
                separator=", ",
                ignore_nulls=True,
            )
        )
        .select(DAY, "column", "severity", "rejected", "w", "location", "psi", "null_rise")
        .sort(DAY, "column")
    )
    mo.vstack(
        [
            mo.md(
                f"{drift[DAY].n_unique()} days tested; {flagged[DAY].n_unique()} with a flagged "
                f"column ({flagged.height} flags). Each flag, with the tests that rejected:"
            ),
            flagged,
        ]
    )
    return (flagged,)


@app.cell
def _(DAY, TwoSlopeNorm, drift, flagged, mo, np, pl, plt, spec):
    # log10(alpha / smallest p-value of the column's tests): above 0, a test rejected
    _evidence = (
        drift.with_columns(
            evidence=(
                pl.col("alpha")
                / pl.min_horizontal(pl.col("p_shape", "p_location", "p_nulls", "p_unseen"))
            ).log10()
        )
        .pivot(on=DAY, index="column", values="evidence", sort_columns=True)
        .sort("column")
    )
    _grid = _evidence.drop("column").to_numpy()  # NaN: the column was not tested that day
    _norm = TwoSlopeNorm(0.0, min(-1.0, np.nanmin(_grid)), max(1.0, np.nanmax(_grid)))
    _fig, _ax = plt.subplots(figsize=(10, 4.5))
    _image = _ax.imshow(_grid, aspect="auto", cmap="RdBu_r", norm=_norm)
    _days, _columns = _evidence.columns[1:], _evidence["column"].to_list()
    _ax.set_xticks(range(0, len(_days), 7), _days[::7])
    _ax.set_yticks(range(len(_columns)), _columns)
    _ax.scatter(
        [_days.index(str(d)) for d in flagged[DAY]],
        [_columns.index(c) for c in flagged["column"]],
        marker="x",
        color="black",
    )
    _fig.colorbar(_image, label="log10(alpha / smallest p)")
    _ax.set_title(f"{spec.name}: drift evidence per column and day (red: a test rejected)")
    _fig.tight_layout()
    mo.as_html(_fig)
    return


@app.cell
def _(mo):
    mo.md(r"""
    ## The champion's backtest

    The lake's `backtest` is the last candidate's (the champion's when it was promoted; the
    next line says which): each walk-forward fold trains on the past (labels known by then)
    and scores a later week, out of time. The AUC and the calibration evidence carry 95%
    intervals that resample whole days; the gates decide on their bounds.
    """)
    return


@app.cell
def _(backtest, champion, mo):
    _version, _auc = backtest["candidate"]["version"], backtest["candidate_auc"]
    _oe, _slope = backtest["calibration"]["observed_to_expected"], backtest["calibration"]["slope"]
    _decision = backtest["decision"]
    _whose = (
        "the champion"
        if _version == champion["version"]
        else f"the last candidate; the champion is v{champion['version']}"
    )
    mo.md(
        f"""
    Backtest of **v{_version}** ({_whose}): {len(backtest["folds"])} folds,
    {backtest["overall"]["candidate"]["rows"]:,} out-of-time rows.

    - AUC **{_auc["estimate"]:.3f}** [{_auc["low"]:.3f}, {_auc["high"]:.3f}]
    - observed / expected positives **{_oe["estimate"]:.3f}** [{_oe["low"]:.3f}, {_oe["high"]:.3f}],
      calibration slope **{_slope["estimate"]:.3f}** [{_slope["low"]:.3f}, {_slope["high"]:.3f}]
    - decision: {_decision["rule"]}, threshold {_decision["threshold"]:.4f}
      ({_decision["basis"]}); value per application
      {_decision["value_per_application"]["candidate"]:.2f}
    """
    )
    return


@app.cell
def _(backtest, mo, pl):
    gates = pl.DataFrame(
        [
            {"gate": g, "verdict": "PASS" if v["passed"] else "FAIL", "reason": v["reason"]}
            for g, v in backtest["gates"].items()
        ]
    )
    mo.vstack([mo.md("The gates' verdicts:"), gates])
    return


@app.cell
def _(backtest, mo, pl, reliability_figure, spec):
    _figure = reliability_figure(backtest["reliability"], f"{spec.name}: reliability (backtest)")
    mo.hstack(
        [
            _figure,
            pl.DataFrame(backtest["reliability"]["candidate"]).with_columns(
                pl.selectors.float().round(4)
            ),
        ],
        widths=[1, 1],
    )
    return


if __name__ == "__main__":
    app.run()
