"""Error rates of the promotion and calibration gates, over many simulated trials.

Real models of the lending simulator, trained once with the platform's own recipe
(`fit_model`: capacity and calibration chosen on held-out day blocks) on 28 days of 2,000
applications:
- "equal": the default recipe trained on two samples of the same 28 days; their true AUCs
  differ by a little (printed), so the roles alternate between trials (even trials: the second
  sample's model is the candidate; odd: the first's): over the trials the candidate is exactly
  as good as the champion, and promoting it is a false promotion;
- "better": the full model against the weaker recipe (one feature left out, or fewer boosting
  rounds) whose true AUC gap is closest to 0.01 (measured on 200,000 held-out rows, printed).
Each trial draws fresh comparison days from the simulator (1, 3 or 7 days of 2,000 rows, or 21
days of 700 as in a backtest), scores them with both models and applies the gates' own
functions (`paired_comparison`, `evaluate_gates`).

Calibration: the simulator's true probabilities (calibrated by construction) and the fitted
champion pass or fail the calibration gate on fresh rows (6 days of 1,000, 7 of 2,000); the true
probabilities scaled by 0.7 or 1.3 (risk under- or over-stated by 30%) should fail it. Then
the retrain rule's route (`promote_if: not_worse`) against a deployed champion that states risk
at 0.7 p (off the band, as after a drift): a candidate at 0.85 p (closer) should pass, one at
0.6 p or 0.5 p (further off) should not.

    uv run python bench/bench_gates.py [--trials 200] [--selective] [--only promotion|calibration]
        [--explore SHARE] [--explore-band BAND]

`--selective`: the rows as the platform sees them under selective labels (the deployed model,
the champion or the weaker recipe, decides them with a 5% control group; only approved rows have
outcomes, weighted back to the population by `population_rows`), for promotion and calibration.
`--explore`: with it, the deciding model also approves this share of the applications whose score
lies in [threshold, BAND x threshold) (`serving.explore_share`, `explore_band`: exploration near
the threshold, with known chances), and the bench prints what that costs in value per application
under the true default probabilities.

Prints each rate with its trial count, rows and a 95% Wilson interval.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from dataclasses import replace

os.environ.setdefault("OMP_NUM_THREADS", "1")

import bench_decisions  # noqa: E402  (bench/ is on the path when run as a script)
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from mlops_assets.compute.backtest import (  # noqa: E402
    paired_comparison,
    weighted_calibration_evidence,
)
from mlops_assets.compute.features import LABEL, FeatureColumns  # noqa: E402
from mlops_assets.compute.fitting import fit_model
from mlops_assets.compute.gates import evaluate_gates  # noqa: E402
from mlops_assets.compute.ingest import DAY  # noqa: E402
from mlops_assets.compute.intervals import (  # noqa: E402
    auc_interval,
    clusters_of,
    wilson,
)
from mlops_assets.compute.metrics import decision_threshold  # noqa: E402
from mlops_assets.compute.selective import observable, population_rows  # noqa: E402
from mlops_assets.compute.training import Recipe, model_matrix
from mlops_assets.config.settings import BUILTIN_SPEC
from mlops_assets.config.spec import load_spec  # noqa: E402
from mlops_assets.sources.simulator import Scenario, labelled_truth  # noqa: E402
from serving.policy import Policy, Scored, decide  # noqa: E402

NUMERIC = tuple(bench_decisions.NUMERIC)  # the simulator's columns, as in the drift bench
CATEGORICAL = ("home_ownership", "purpose", "region", "channel")
START = dt.date(2025, 1, 1)
ROWS_PER_DAY = 2000


def labelled_days(first: int, count: int, seed: int, rows: int = ROWS_PER_DAY) -> pl.DataFrame:
    """`count` simulated days with labels, the true probability and the model's input columns."""
    frames = []
    for d in range(first, first + count):
        date = START + dt.timedelta(days=d)
        apps, truth = labelled_truth(d, date, rows, seed, Scenario())
        frames.append(
            apps.join(truth, on="application_id").with_columns(
                pl.lit(date).alias(DAY),
                pl.col("defaulted").alias(LABEL),
                *(pl.col(c).is_null().cast(pl.Float64).alias(f"{c}__missing") for c in NUMERIC),
            )
        )
    return pl.concat(frames)


def scorer(frame: pl.DataFrame, columns: FeatureColumns, params: dict | None = None):
    model, _ = fit_model(frame, columns, Recipe(params=params or {}))
    return lambda rows: model.predict_proba(model_matrix(rows, columns))[:, 1]


def promoted(rows: pl.DataFrame, candidate, champion, spec, rule: str = "better") -> bool:
    """The `beats_champion` gate's verdict on `rows` under the promotion `rule` ("not_worse":
    the candidate's training data is newer, as for a retrain against the deployed champion)."""
    verdicts = gate_verdicts(rows, candidate(rows), champion(rows), spec, rule)
    return verdicts["beats_champion"]["passed"]


def gate_verdicts(rows, candidate, champion, spec, rule: str, against: str | None = None) -> dict:
    """Every gate's verdict on `rows` scored by both models (training windows: the candidate's
    newer), from the backtest's own evidence functions; `against="deployed"`: the champion
    scored as it is."""
    scored = rows.with_columns(candidate=pl.Series(candidate), champion=pl.Series(champion))
    y, threshold = scored[LABEL].to_numpy(), decision_threshold(spec)["threshold"]
    comparison = paired_comparison(scored, threshold, spec)
    comparison["training_windows_end"] = {"candidate": "2025-02", "champion": "2025-01"}
    if against:
        comparison["against"] = against
    report = {
        "candidate_auc": auc_interval(
            y, scored["candidate"].to_numpy(), clusters_of(scored[DAY].to_numpy())
        ).as_dict(),
        "overall": {"candidate": {"rows": scored.height}},
        "calibration": weighted_calibration_evidence(scored, "candidate"),
        "comparison": comparison,
    }
    return evaluate_gates(report, spec.gates, rule)


def calibration_passes(rows: pl.DataFrame, scores: np.ndarray, spec) -> bool:
    """The calibration gate on `rows` (under selective labels: the weighted copies of the
    observed rows, `population_rows`), through the backtest's own evidence function."""
    scored = rows.with_columns(candidate=pl.Series(scores))
    report = {
        "candidate_auc": None,
        "overall": {"candidate": {"rows": rows.height}},
        "calibration": weighted_calibration_evidence(scored, "candidate"),
        "comparison": None,
    }
    return evaluate_gates(report, spec.gates)["calibration"]["passed"]


def deciding_log(rows: pl.DataFrame, champion, spec) -> pl.DataFrame:
    """The decision log of `rows` decided by `champion` under the spec's control group and
    exploration."""
    s = spec.serving
    policy = Policy(
        "decline",
        "approve",
        control_share=s.control_share,
        explore_share=s.explore_share,
        explore_band=s.explore_band,
    )
    threshold = decision_threshold(spec)["threshold"]
    return decide(
        rows["application_id"].to_list(), Scored(1, threshold, champion(rows)), None, policy
    )


def exploration_cost(rows: pl.DataFrame, champion, spec) -> float:
    """Value per application that exploration gives up: the explored applications approved
    instead of declined, in expectation under their true default probabilities."""
    p, v = rows["true_default_probability"].to_numpy(), spec.value
    approve = p * v.otherwise_positive + (1 - p) * v.otherwise_negative
    decline = p * v.action_positive + (1 - p) * v.action_negative
    explored = deciding_log(rows, champion, spec)["explored"].to_numpy()
    return float(np.sum((decline - approve)[explored]) / len(p))


def selective(rows: pl.DataFrame, champion, spec, seed: int) -> pl.DataFrame:
    """The rows as the platform sees them under selective labels: decided by the champion with
    the control group (and exploration), only approved ones observed, weighted back to the
    population."""
    log = deciding_log(rows, champion, spec)
    approved = rows.filter(log["decision"] == "approve")
    weighted = observable(approved.lazy(), log.lazy(), spec, "application_id").collect()
    return population_rows(weighted, seed)


def rate(hits: int, n: int) -> str:
    i = wilson(hits, n)
    return f"{hits / n:>6.1%} ({i.low:.1%}-{i.high:.1%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument(
        "--selective",
        action="store_true",
        help="outcomes only for what the champion approved and the control group, weighted",
    )
    parser.add_argument(
        "--only", choices=("promotion", "calibration"), help="one of the two gates' tables"
    )
    parser.add_argument("--explore", type=float, default=0.0, help="serving.explore_share")
    parser.add_argument("--explore-band", type=float, default=1.5, help="serving.explore_band")
    args = parser.parse_args()
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")  # its paths are never read here
    serving = replace(spec.serving, explore_share=args.explore, explore_band=args.explore_band)
    spec = replace(spec, serving=serving)
    columns = FeatureColumns(NUMERIC, CATEGORICAL, ("age_band",))
    started = time.perf_counter()
    first, second = labelled_days(0, 28, seed=1), labelled_days(0, 28, seed=2)
    holdout = labelled_days(500, 100, seed=3)
    champion = scorer(first, columns)
    if args.only != "calibration":
        promotion_rates(args, spec, columns, champion, scorer(second, columns), first, holdout)
    if args.only != "promotion":
        calibration_rates(args, spec, champion)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


def promotion_rates(args, spec, columns, champion, equal, first, holdout) -> None:
    """Equal models promoted, and a model 0.01 AUC better, over fresh comparison days."""
    y = holdout[LABEL].to_numpy()
    full_auc = auc_interval(y, champion(holdout)).estimate
    print(f"equal: true AUC difference {auc_interval(y, equal(holdout)).estimate - full_auc:+.4f}")
    gaps = {}  # weaker recipes: a feature left out, or fewer boosting rounds
    for drop in NUMERIC + CATEGORICAL:
        kept = FeatureColumns(
            tuple(c for c in NUMERIC if c != drop), tuple(c for c in CATEGORICAL if c != drop), ()
        )
        gaps[f"without {drop}"] = scorer(first, kept)
    for rounds in (20, 40, 60, 100):
        gaps[f"with max_iter {rounds}"] = scorer(first, columns, {"max_iter": rounds})
    gaps = {k: (f, full_auc - auc_interval(y, f(holdout)).estimate) for k, f in gaps.items()}
    name, (weak, gap) = min(gaps.items(), key=lambda kv: abs(kv[1][1] - 0.01))
    print(f"better: the full model vs the champion's recipe {name}: true gap {gap:+.4f}")
    print(
        f"\npromotion gate ({spec.gates.margin} margin, 95% intervals), {args.trials} trials each"
        + (
            f"; exploring {spec.serving.explore_share:g} of [threshold, "
            f"{spec.serving.explore_band:g} x threshold)"
            if args.selective and spec.serving.explore_share
            else ""
        )
    )
    print(
        f"{'comparison rows':>16} {'days':>5} {'equal promoted (95% CI)':>26} "
        f"{'0.01 better promoted':>24}"
    )
    # 1-7 days of 2,000 rows: rows are resampled; 21 days (as in a backtest): days are
    for days, per_day in ((1, 2000), (3, 2000), (7, 2000), (21, 700)):
        false = true = 0
        costs = []
        for t in range(args.trials):
            rows = labelled_days(1000 + 30 * t, days, seed=10_000 + 100 * days + t, rows=per_day)
            challenger, incumbent = (equal, champion) if t % 2 == 0 else (champion, equal)
            if args.selective:
                false += promoted(selective(rows, incumbent, spec, t), challenger, incumbent, spec)
                costs.append(exploration_cost(rows, incumbent, spec))
                if days >= 7:
                    true += promoted(selective(rows, weak, spec, t), champion, weak, spec)
                continue
            false += promoted(rows, challenger, incumbent, spec)
            if days >= 7:
                true += promoted(rows, champion, weak, spec)
        better = rate(true, args.trials) if days >= 7 else "-"
        cost = (
            f"  exploration costs {np.mean(costs):.2f} per application"
            if costs and spec.serving.explore_share
            else ""
        )
        print(
            f"{days * per_day:>16,} {days:>5} {rate(false, args.trials):>26} {better:>24}{cost}",
            flush=True,
        )


def calibration_rates(args, spec, champion) -> None:
    """The calibration gate on true, fitted, under- and over-stated probabilities."""
    print(
        f"\ncalibration gate (tolerance {spec.gates.calibration_tolerance}), {args.trials} trials"
        + (", selective labels (the champion decides, 5% control)" if args.selective else "")
    )
    print(
        f"{'days x rows':>12} {'true p passes':>22} {'fitted model passes':>22} "
        f"{'0.7 p fails':>22} {'1.3 p fails':>22}"
    )
    for days, per_day in ((6, 1000), (7, 2000)):
        truth = fitted = under = over = 0
        for t in range(args.trials):
            rows = labelled_days(3000 + 10 * t, days, seed=20_000 + per_day + t, rows=per_day)
            if args.selective:
                rows = selective(rows, champion, spec, t)
            p = rows["true_default_probability"].to_numpy()
            truth += calibration_passes(rows, p, spec)
            fitted += calibration_passes(rows, champion(rows), spec)
            under += not calibration_passes(rows, 0.7 * p, spec)
            over += not calibration_passes(rows, np.minimum(1.3 * p, 1 - 1e-6), spec)
        print(
            f"{f'{days} x {per_day:,}':>12} {rate(truth, args.trials):>22} "
            f"{rate(fitted, args.trials):>22} {rate(under, args.trials):>22} "
            f"{rate(over, args.trials):>22}",
            flush=True,
        )
    print(
        "\nretrain rule (not_worse) against a deployed champion stating risk at 0.7 p: the "
        "candidate passes the calibration gate / is promoted (every gate)"
    )
    shares = (0.85, 0.6, 0.5)
    print(f"{'days x rows':>12} " + " ".join(f"{f'{c} p':>34}" for c in shares))
    for days, per_day in ((6, 1000), (7, 1000), (7, 2000)):
        passes, promoted = dict.fromkeys(shares, 0), dict.fromkeys(shares, 0)
        for t in range(args.trials):
            rows = labelled_days(4000 + 10 * t, days, seed=30_000 + per_day + t, rows=per_day)
            if args.selective:
                rows = selective(rows, champion, spec, t)
            p = rows["true_default_probability"].to_numpy()
            for share in shares:
                gates = gate_verdicts(rows, share * p, 0.7 * p, spec, "not_worse", "deployed")
                passes[share] += gates["calibration"]["passed"]
                promoted[share] += all(v["passed"] for v in gates.values())
        print(
            f"{f'{days} x {per_day:,}':>12} "
            + " ".join(
                f"{rate(passes[c], args.trials) + ' / ' + f'{promoted[c] / args.trials:.1%}':>34}"
                for c in shares
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
