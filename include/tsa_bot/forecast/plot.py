"""Backtest charts: weekly means against the forecast band, and reliability of strike probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tsa_bot.forecast.backtest import BacktestResult
from tsa_bot.forecast.distribution import STRIKES


def reliability_points(
    probabilities: np.ndarray, outcomes: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean forecast probability, observed frequency and count per probability bin (empty bins dropped)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    mean_p, freq, count = [], [], []
    for b in range(bins):
        mask = index == b
        if mask.any():
            mean_p.append(probabilities[mask].mean())
            freq.append(outcomes[mask].mean())
            count.append(int(mask.sum()))
    return np.array(mean_p), np.array(freq), np.array(count)


def plot_backtest(result: BacktestResult, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks = [w for w in result.weeks if w.point.actual_mean is not None]
    dates = [w.model.week_start for w in weeks]
    actual = np.array([w.point.actual_mean for w in weeks])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2, 1]})
    ax1.fill_between(
        dates,
        [w.model.quantile(0.1) / 1e6 for w in weeks],
        [w.model.quantile(0.9) / 1e6 for w in weeks],
        alpha=0.3,
        label="model 80% band",
    )
    ax1.plot(dates, [w.model.quantile(0.5) / 1e6 for w in weeks], label="model median")
    ax1.plot(dates, [w.baseline.quantile(0.5) / 1e6 for w in weeks], ":", label="YoY baseline median")
    ax1.plot(dates, actual / 1e6, "k.", label="actual")
    ax1.set_title(f"Weekly mean, {result.known_days} known day(s)")
    ax1.set_ylabel("passengers per day (millions)")
    ax1.legend()

    strikes = np.asarray(STRIKES, dtype=float)
    outcomes = np.concatenate([(a > strikes).astype(float) for a in actual]) if weeks else np.array([])
    ax2.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    for label, pick in (("model", lambda w: w.model), ("baseline", lambda w: w.baseline)):
        if not weeks:
            break
        probs = np.concatenate([[pick(w).prob_above(s) for s in STRIKES] for w in weeks])
        # Far-away strikes are certain either way; only the uncertain ones say anything about calibration.
        keep = (probs > 0.02) & (probs < 0.98)
        mean_p, freq, _ = reliability_points(probs[keep], outcomes[keep])
        ax2.plot(mean_p, freq, "o-", label=f"{label} ({int(keep.sum())} pairs)")
    ax2.set_title("Reliability of P(mean > strike)")
    ax2.set_xlabel("forecast probability")
    ax2.set_ylabel("observed frequency")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
