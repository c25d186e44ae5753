"""Plots: MLflow artifacts and PNG files beside the lake's reports, linked from Dagster's
metadata (never inlined in the event log)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from mlops_assets.defs.lake import write_bytes

if TYPE_CHECKING:
    import polars as pl


def reliability_figure(reliability: dict[str, list[dict]], title: str):
    """A reliability diagram: observed positive rate against mean score, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=90)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, rows in reliability.items():
        ax.plot(
            [r["mean_score"] for r in rows],
            [r["observed_rate"] for r in rows],
            marker="o",
            label=name,
        )
    ax.set(
        xlabel="mean score", ylabel="observed positive rate", title=title, xlim=(0, 1), ylim=(0, 1)
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def curve_figures(y, scores: dict, title: str) -> dict[str, object]:
    """ROC and precision-recall curves of each model's scores on the same rows, by file name."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    plt = _pyplot()
    roc, roc_ax = plt.subplots(figsize=(5, 4), dpi=90)
    pr, pr_ax = plt.subplots(figsize=(5, 4), dpi=90)
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    pr_ax.axhline(float(y.mean()), linestyle="--", color="grey", label="base rate")
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        precision, recall, _ = precision_recall_curve(y, score)
        roc_ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
        pr_ax.plot(recall, precision, label=f"{name} (AUC {auc(recall, precision):.3f})")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"{title}: ROC")
    pr_ax.set(xlabel="recall", ylabel="precision", title=f"{title}: precision-recall")
    for ax in (roc_ax, pr_ax):
        ax.legend(loc="lower right" if ax is roc_ax else "upper right")
    return {"backtest/roc.png": roc, "backtest/precision_recall.png": pr}


def bar_png(values: dict[str, float], title: str, warn: float, alert: float) -> bytes:
    """Horizontal bars (e.g. PSI per column) with the warning and alert levels marked."""
    plt = _pyplot()
    names = sorted(values, key=values.get)
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(names) + 1.2), dpi=90)
    colours = [
        "tab:red" if values[n] >= alert else "tab:orange" if values[n] >= warn else "tab:blue"
        for n in names
    ]
    ax.barh(names, [values[n] for n in names], color=colours)
    for level, style in ((warn, ":"), (alert, "--")):
        ax.axvline(level, color="grey", linestyle=style)
    ax.set(title=title)
    return png_bytes(fig)


def uplift_png(curve: pl.DataFrame, title: str) -> bytes:
    """The cumulative uplift per day with its interval (a band), and the zero line."""
    import datetime as dt

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3), dpi=90)
    days = [dt.date.fromisoformat(d) for d in curve["day"]]
    ax.fill_between(days, curve["low"], curve["high"], alpha=0.25, label="95% interval")
    ax.plot(days, curve["estimate"], marker=".", label="policy - control")
    ax.axhline(0, color="grey", linestyle="--")
    ax.set(title=title, ylabel="value per application")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return png_bytes(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    _pyplot().close(fig)
    return buffer.getvalue()


def close_figures(figures) -> None:
    for figure in figures:
        _pyplot().close(figure)


def reports_folder(dataset, kind: str):
    """`reports/<dataset>/<kind>/` beside the lake (`<home>/reports/` by default)."""
    return dataset.lake_root.parent / "reports" / dataset.spec.name / kind


def save_plot(dataset, kind: str, day: str, png: bytes):
    """A PNG in `reports/<dataset>/<kind>/<day>.png`, written atomically."""
    return write_bytes(png, reports_folder(dataset, kind) / f"{day}.png")


def write_drift_html(dataset, day, table, auc, estimate, png, basis):
    """The day's drift report as a standalone HTML page in `reports/` beside the lake
    (`<home>/reports/` by default), written atomically."""
    import base64
    import html

    folder = reports_folder(dataset, "drift")
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in table.sort("psi", descending=True).iter_rows(named=True)
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = (
        f"<html><head><meta charset='utf-8'><title>{dataset.spec.name} drift {day}</title>"
        "<style>td,th{padding:2px 8px;text-align:right}</style></head><body>"
        f"<h1>{dataset.spec.name}: drift on {day}</h1>"
        f"<p>Reference: {html.escape(basis)}. Domain classifier AUC "
        f"{auc:.3f}. Estimated ROC AUC (CBPE) {estimate.get('expected_roc_auc')}.</p>"
        f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>"
        f"<table><tr>{head}</tr>{rows}</table></body></html>"
    )
    return write_bytes(body.encode(), folder / f"{day}.html")
