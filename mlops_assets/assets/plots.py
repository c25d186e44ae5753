"""Plots for the Dagster UI (Markdown with an embedded PNG) and MLflow artifacts."""

from __future__ import annotations

import base64
import io


def reliability_png(reliability: dict[str, list[dict]], title: str) -> bytes:
    """A reliability diagram: observed positive rate against mean score, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def bar_png(values: dict[str, float], title: str, warn: float, alert: float) -> bytes:
    """Horizontal bars (e.g. PSI per column) with the warning and alert levels marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
