"""The retrain signals the sensors read from the monitoring assets' metadata: each a reason, or
None."""

from mlops_assets.config.spec import Monitoring


def drift_signal(meta: dict, monitoring: Monitoring) -> str | None:
    """The drift report's retrain signal, as a reason, or None."""
    if not meta.get("retrain_signal"):
        return None
    summary = meta.get("summary") or {}
    return (
        f"over {', '.join(summary.get('pooled_days', []))}: major drift in "
        f"{', '.join(summary.get('pooled_major_drift_columns', [])) or 'none'}; "
        f"domain classifier AUC {summary.get('pooled_domain_auc')}"
    )


def performance_signal(meta: dict, monitoring: Monitoring) -> str | None:
    """The performance asset's retrain signal, as a reason, or None: its calibration CUSUM
    alarms (a sequential test with a stated average run length between false alarms), or the
    trailing realized AUC's whole 99% interval lies more than `auc_drop` below the AUC that the
    calibrated scores expect on the same rows (CBPE on the observed rows: the approved ones are
    a biased sample, so the backtest AUC is not the yardstick)."""
    cusum = meta.get("calibration_cusum") or {}
    if cusum.get("alarm"):
        side = cusum["alarm"]
        return (
            f"calibration CUSUM: risk {side} by {monitoring.calibration_ratio}x on the odds, "
            f"statistic {cusum[side]:.2f} >= {cusum['threshold']:.2f} over {cusum['days']} "
            f"outcome days (at least {monitoring.cusum_arl_days:g} days between false alarms)"
        )
    auc = meta.get("trailing_auc_test") or {}
    if auc.get("fires"):
        i = auc["interval"]
        return (
            f"trailing realized AUC {i['estimate']:.4f} (99% interval {i['low']:.4f}-"
            f"{i['high']:.4f}, {auc['positives']} positives) wholly below {auc['limit']:.4f} "
            f"= the {auc['expected']:.4f} expected on the same rows - {monitoring.auc_drop}"
        )
    return None
