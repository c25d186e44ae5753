import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    from dataclasses import asdict

    import marimo as mo
    import mlflow
    import polars as pl

    from mlops_assets.compute.backtest import run_backtest, walk_forward_folds
    from mlops_assets.compute.fitting import recipe_fitter
    from mlops_assets.compute.gates import evaluate_gates
    from mlops_assets.compute.ingest import DAY
    from mlops_assets.compute.training import Recipe
    from mlops_assets.config.settings import Settings
    from mlops_assets.config.spec import load_spec
    from mlops_assets.defs.assets.evaluation import BacktestConfig
    from mlops_assets.defs.assets.plots import reliability_figure
    from mlops_assets.defs.registry import experiment_id, registry_for
    from mlops_assets.defs.resources import DatasetResource
    from mlops_assets.lake_access import load_asset

    return (
        BacktestConfig,
        DAY,
        DatasetResource,
        Recipe,
        Settings,
        asdict,
        evaluate_gates,
        experiment_id,
        load_asset,
        load_spec,
        mlflow,
        mo,
        pl,
        recipe_fitter,
        registry_for,
        reliability_figure,
        run_backtest,
        walk_forward_folds,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # Trying a recipe against the champion's

    A variant recipe and the champion's recipe are both refitted on each walk-forward fold of
    the training set and score the same out-of-time rows, as the train job's backtest does: the
    AUC and value-per-application differences are paired, with 95% intervals. The variant is
    logged to MLflow as a run of the dataset's experiment (tag `source=notebooks/experiment.py`)
    and **never registered nor promoted**: a recipe reaches production only through the gates
    (`mlops run`, or the train job with the recipe as its `candidate_model` config).
    """)
    return


@app.cell
def _(Recipe):
    # The recipe to try: estimator auto | hist_gradient_boosting | logistic_regression | dummy,
    # its params, seed, recency_half_life_days (None: rows weigh the same), calibration.
    variant = Recipe(estimator="logistic_regression", params={"C": 0.3})
    return (variant,)


@app.cell
def _(DatasetResource, Settings, load_asset, load_spec, mo, registry_for):
    settings = Settings.resolve()  # MLOPS_HOME and MLOPS_DATASET, or home=..., dataset=...
    spec = load_spec(settings.dataset_spec, home=settings.home)
    columns = DatasetResource(
        spec_path=str(settings.dataset_spec), home=str(settings.home), lake=str(settings.lake)
    ).feature_columns()
    registry = registry_for(settings, spec)
    champion_version = registry.champion_version()
    champion_recipe = registry.recipe(champion_version) if champion_version else None
    training_set = load_asset("training_set", dataset=settings.dataset_spec, home=settings.home)
    _champion = f"v{champion_version}, recipe `{champion_recipe}`" if champion_version else "none"
    mo.md(
        f"**{spec.name}**: training set of {training_set.height:,} labelled rows; "
        f"champion: {_champion}."
    )
    return champion_recipe, champion_version, columns, registry, spec, training_set


@app.cell
def _(BacktestConfig, DAY, asdict, mo, pl, spec, training_set, walk_forward_folds):
    backtest_config = BacktestConfig()  # the train job's defaults: 3 folds of 7 days
    gap_days = spec.target.delay_days  # a fold learns only from labels landed by its test days
    folds = walk_forward_folds(
        sorted(training_set[DAY].unique().to_list()),
        backtest_config.folds,
        backtest_config.fold_days,
        gap_days,
        backtest_config.min_train_days,
    )
    mo.vstack(
        [
            mo.md(f"Walk-forward folds, {gap_days} days between training and test rows:"),
            pl.DataFrame([asdict(f) for f in folds]),
        ]
    )
    return (folds,)


@app.cell
def _(
    champion_recipe,
    columns,
    evaluate_gates,
    folds,
    recipe_fitter,
    run_backtest,
    spec,
    training_set,
    variant,
):
    _variant_fit = recipe_fitter(columns, variant)
    _champion_fit = (
        None
        if champion_recipe is None
        else _variant_fit
        if champion_recipe == variant
        else recipe_fitter(columns, champion_recipe)
    )
    report, _rows = run_backtest(training_set, folds, _variant_fit, spec, _champion_fit)
    gates = evaluate_gates(report, spec.gates)
    return gates, report


@app.cell
def _(champion_version, mo, pl, report):
    _comparison = report["comparison"]

    def _interval(d):
        return f"**{d['estimate']:+.4f}** [{d['low']:+.4f}, {d['high']:+.4f}]"

    _paired = (
        "No champion: nothing to compare with."
        if _comparison is None
        else f"Variant minus champion v{champion_version}'s recipe on the same "
        f"{_comparison['rows']:,} rows ({_comparison['days']} days): AUC "
        f"{_interval(_comparison['auc_difference'])}, value per application "
        f"{_interval(_comparison['value_difference'])}."
    )
    mo.vstack(
        [
            mo.md(_paired),
            pl.DataFrame(
                [{"model": m, **values} for m, values in report["overall"].items()]
            ).with_columns(model=pl.col("model").replace({"candidate": "variant"})),
        ]
    )
    return


@app.cell
def _(gates, mo, pl):
    mo.vstack(
        [
            mo.md(
                "What the gates would say, were the variant a candidate (nothing is registered):"
            ),
            pl.DataFrame(
                [
                    {"gate": g, "verdict": "PASS" if v["passed"] else "FAIL", "reason": v["reason"]}
                    for g, v in gates.items()
                ]
            ),
        ]
    )
    return


@app.cell
def _(champion_version, mo, reliability_figure, report, spec):
    reliability = reliability_figure(
        {
            ("variant" if m == "candidate" else f"champion v{champion_version}'s recipe"): table
            for m, table in report["reliability"].items()
        },
        f"{spec.name}: reliability (walk-forward backtest)",
    )
    mo.as_html(reliability)
    return (reliability,)


@app.cell
def _(
    DAY,
    asdict,
    champion_version,
    experiment_id,
    gates,
    mlflow,
    mo,
    registry,
    reliability,
    report,
    training_set,
    variant,
):
    _metrics = {
        f"backtest_{m}_{k}": v
        for m, values in report["overall"].items()
        for k, v in values.items()
        if isinstance(v, int | float)
    }
    _metrics["backtest_value_per_application"] = report["decision"]["value_per_application"][
        "candidate"
    ]
    for _name in ("auc_difference", "value_difference"):
        _interval = (report["comparison"] or {}).get(_name)
        if _interval:
            _metrics |= {
                f"{_name}_estimate": _interval["estimate"],
                f"{_name}_lower": _interval["low"],
                f"{_name}_upper": _interval["high"],
            }
    mlflow.set_tracking_uri(registry.tracking_uri)
    _experiment = experiment_id(registry.client(), registry.experiment, registry.artifact_location)
    with mlflow.start_run(
        experiment_id=_experiment,
        run_name=f"notebook {variant.estimator}",
        tags={
            "source": "notebooks/experiment.py",
            "champion_version": str(champion_version),
            "training_window": f"{training_set[DAY].min()}..{training_set[DAY].max()}",
        },
    ) as _run:
        mlflow.log_params(
            {**{k: v for k, v in asdict(variant).items() if k != "params"}, **variant.params}
        )
        mlflow.log_metrics(_metrics)
        mlflow.log_dict({**report, "gates": gates}, "backtest/report.json")
        mlflow.log_figure(reliability, "backtest/reliability.png")
    mo.md(
        f"Logged run `{_run.info.run_id}` in experiment `{registry.experiment}` "
        f"({registry.display_uri}); no model was logged nor registered."
    )
    return


if __name__ == "__main__":
    app.run()
