"""Benchmark: training under selective labels, judged with the truth known.

    uv run python bench/bench_selective_labels.py                    # 5 seeds, concept drift
    uv run python bench/bench_selective_labels.py --scenario none --seeds 3

A champion trained on the first 21 days (the legacy policy approved everyone: every outcome is
known) decides days 28-55 with a 5% control group, so only approved and control applications
have outcomes. On those days three models are trained with the platform's own recipe
(`fit_model`, calibrated out of time):
- naive: the observed rows, unweighted (what a join of the outcomes files gives);
- weighted: the observed rows, each weighted by 1 / P(observed) (`compute.selective`), as is
  and truncated at the recipe's `weight_cap` (3, what the platform trains with);
- full information: every applicant's outcome (the simulator's ground truth), unattainable.
Each is judged on every applicant of days 56-69 (ground truth): ROC AUC, observed / expected
defaults, and the value per application of its decisions at the value matrix's break-even
threshold. Printed per seed and as the mean over seeds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from mlops_assets.compute.features import LABEL, build_features, feature_columns  # noqa: E402
from mlops_assets.compute.fitting import fit_model
from mlops_assets.compute.ingest import DAY  # noqa: E402
from mlops_assets.compute.metrics import break_even_threshold  # noqa: E402
from mlops_assets.compute.profile import fit_profile  # noqa: E402
from mlops_assets.compute.selective import WEIGHT, effective_sample_size, observable  # noqa: E402
from mlops_assets.compute.training import Recipe, model_matrix
from mlops_assets.config.settings import Settings  # noqa: E402
from mlops_assets.config.spec import load_spec  # noqa: E402
from mlops_assets.sources.simulator import Scenario, labelled_truth  # noqa: E402
from serving.policy import Policy, Scored, decide  # noqa: E402

START = dt.date(2025, 1, 1)
LEGACY, DECIDED, TEST = range(0, 21), range(28, 56), range(56, 70)


def days(indices, rows: int, seed: int, scenario: Scenario) -> pl.DataFrame:
    """Applications of the days with their drawn outcome (the truth) and `DAY`."""
    frames = []
    for day in indices:
        date = START + dt.timedelta(days=day)
        apps, truth = labelled_truth(day, date, rows, seed, scenario)
        frames.append(apps.join(truth, on="application_id").with_columns(pl.lit(date).alias(DAY)))
    return pl.concat(frames)


def trial(spec, rows: int, seed: int, scenario: Scenario) -> dict:
    raw = {
        name: days(r, rows, seed, scenario)
        for name, r in (("legacy", LEGACY), ("decided", DECIDED), ("test", TEST))
    }
    schema = {c: ("str" if t == pl.String else "num") for c, t in raw["legacy"].schema.items()}
    columns = feature_columns(spec, schema)
    profile = fit_profile(raw["legacy"], list(columns.numeric), list(columns.categorical))
    frames = {
        name: build_features(frame, profile, columns, spec).with_columns(
            frame["true_default_probability"]
        )
        for name, frame in raw.items()
    }
    recipe = Recipe()
    champion, _ = fit_model(frames["legacy"], columns, recipe)
    threshold = break_even_threshold(spec.value)
    decided = frames["decided"]
    scores = champion.predict_proba(model_matrix(decided, columns))[:, 1]
    policy = Policy("decline", "approve", control_share=spec.serving.control_share)
    log = decide(decided["application_id"].to_list(), Scored(1, threshold, scores), None, policy)
    approved = decided.filter(log["decision"] == "approve")
    weighted = observable(approved.lazy(), log.lazy(), spec, "application_id").collect()
    untruncated = Recipe(weight_cap=None)
    trainings = {
        "naive (observed rows)": (approved, recipe),
        "weighted, untruncated": (weighted, untruncated),
        f"weighted, truncated at {recipe.weight_cap:g}": (weighted, recipe),
        "full information": (decided, recipe),
    }
    test = frames["test"]
    y, truth_p = test[LABEL].to_numpy(), test["true_default_probability"].to_numpy()
    v = spec.value
    approve_value = np.where(y == 1, v.otherwise_positive, v.otherwise_negative)
    decline_value = np.where(y == 1, v.action_positive, v.action_negative)
    result = {
        "observed_share": approved.height / decided.height,
        "effective_sample_size": effective_sample_size(weighted[WEIGHT].to_numpy()),
        "observed_rows": approved.height,
    }
    for name, training in {**trainings, "oracle (true probability)": None}.items():
        if training is None:
            p = truth_p
        else:
            model, _ = fit_model(training[0], columns, training[1])
            p = model.predict_proba(model_matrix(test, columns))[:, 1]
        value = np.where(p >= threshold, decline_value, approve_value).mean()
        result[name] = {
            "auc": roc_auc_score(y, p),
            "observed_to_expected": y.sum() / p.sum(),
            "value_per_application": value,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scenario", default="concept_drift", help="drift from day 28")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_spec(Settings.resolve(home=Path(tmp)).dataset_spec, home=Path(tmp))
    scenario = Scenario(args.scenario, DECIDED[0])
    trials = []
    for seed in range(1, args.seeds + 1):
        trials.append(trial(spec, args.rows, seed, scenario))
        t = trials[-1]
        print(
            f"seed {seed}: {t['observed_rows']} observed rows ({t['observed_share']:.0%} of "
            f"the applications), effective sample size {t['effective_sample_size']:.0f}",
            flush=True,
        )
    names = [k for k in trials[0] if isinstance(trials[0][k], dict)]
    print(
        f"\nscenario {args.scenario}, {args.rows} rows/day, mean of {len(trials)} seeds; "
        "judged on every applicant of days 56-69"
    )
    print(f"{'training':<32}{'ROC AUC':>10}{'obs/exp':>10}{'value/app':>12}")
    for name in names:
        mean = {k: np.mean([t[name][k] for t in trials]) for k in trials[0][name]}
        print(
            f"{name:<32}{mean['auc']:>10.4f}{mean['observed_to_expected']:>10.3f}"
            f"{mean['value_per_application']:>12.2f}"
        )


if __name__ == "__main__":
    main()
