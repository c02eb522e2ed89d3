"""The replay's result: the JSON document of ``docs/design.md``, the summary table and the chart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tsa_bot.core.market import ZERO
from tsa_bot.core.scoring import brier
from tsa_bot.replay.engine import ReplayRun, Score, Trade
from tsa_bot.replay.execution import FILL_SHARE, TICK
from tsa_bot.replay.market import DEPTH, FEES, RUN_TIME

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

ASSUMPTIONS = {
    "moment": f"each day, the end of the first candle ending at or after {RUN_TIME:%H:%M} America/New_York "
    "(before the next day's run); a day without one is not traded",
    "forecast": "only TSA numbers published by the moment (tsa_bot.publication), the backtest's forecast",
    "fills": "at the candle's YES ask (YES) or 1 - YES bid (NO), taker fee, never better; no slippage",
    "depth": f"{DEPTH} contracts offered at each candle's bid and ask, refreshed every candle",
    "fees": f"{FEES.fee_type} taker fee, multiplier {FEES.fee_multiplier}",
    "settlement": "the market's result when the history has one, else the TSA weekly mean with strict >; "
    "a market with neither stays open (pnl null, not counted)",
    "book": "a paper account: positions carried through the week, P&L realised at the week's settlement "
    "(the Monday after, 09:00 New York)",
    "maker": f"--execution maker: posted at the bid of the side bought, {TICK} inside when the spread is two "
    "ticks or more, never crossing; rests until the next moment (after the last moment: until the close, "
    "then dropped, never crossed); fills only in a later candle that traded strictly through its price, "
    f"for at most {FILL_SHARE:.0%} of that candle's volume; the series' maker fee",
    "brier": "forecast and market (mid of bid and ask) over the same strikes quoted on both sides, at the "
    "same moments, settled",
}


def _money(value: Decimal) -> float:
    return float(value)


def max_drawdown(pnls: Iterable[Decimal]) -> Decimal:
    """The largest fall of cumulative P&L from an earlier peak (the start counts as a peak at 0)."""
    equity = peak = worst = ZERO
    for p in pnls:
        equity += p
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def _brier(scores: Sequence[Score], which: str) -> float | None:
    if not scores:
        return None
    return round(brier([getattr(s, which) for s in scores], [float(s.outcome) for s in scores]), 6)


def _figures(trades: Sequence[Trade], scores: Sequence[Score], drawdown: Decimal) -> dict[str, Any]:
    settled = [t for t in trades if t.pnl is not None]
    return {
        "pnl": _money(sum((t.pnl for t in settled), ZERO)),  # type: ignore[misc]
        "fees": _money(sum((t.fee for t in trades), ZERO)),
        "trades": len(trades),
        "contracts": _money(sum((t.count for t in trades), ZERO)),
        "max_drawdown": _money(drawdown),
        "brier_model": _brier(scores, "model"),
        "brier_market": _brier(scores, "market"),
        "strikes_scored": len(scores),
    }


def execution_figures(outcome: ReplayRun) -> dict[str, Any]:
    """Maker execution's own figures: the share of posted contracts filled, and the adverse selection:
    per contract filled, the price paid minus the market's mid (of the side bought) one moment after the
    fill: positive when the market moved against the fills (fills with no later two-sided mid left out)."""
    if outcome.execution != "maker":
        return {"execution": outcome.execution, "fill_rate": None, "adverse_selection": None}
    filled = [t for t in outcome.trades if t.liquidity == "maker"]
    contracts = sum((t.count for t in filled), ZERO)
    after = [
        (t, t.mid_after if t.direction == "yes" else 1 - t.mid_after)
        for t in filled
        if t.mid_after is not None
    ]
    moved = sum((t.count * (t.price - value) for t, value in after), ZERO)
    counted = sum((t.count for t, _ in after), ZERO)
    return {
        "execution": outcome.execution,
        "fill_rate": round(float(contracts / outcome.posted_contracts), 4)
        if outcome.posted_contracts
        else None,
        "adverse_selection": round(float(moved / counted), 4) if counted else None,
    }


def summary(outcome: ReplayRun) -> dict[str, Any]:
    out = _figures(outcome.trades, outcome.scores, max_drawdown(w["pnl"] for w in outcome.weeks))
    out.update(execution_figures(outcome))
    by_day = {}
    for i, name in enumerate(DAYS):
        trades = [t for t in outcome.trades if t.day.weekday() == i]
        # A day's drawdown: its trades' P&L, week by week, as if it were the only day traded.
        weekly: dict[str, Decimal] = {}
        for t in trades:
            weekly[t.event_ticker] = weekly.get(t.event_ticker, ZERO) + (t.pnl or ZERO)
        scores = [s for s in outcome.scores if s.day.weekday() == i]
        by_day[name] = _figures(trades, scores, max_drawdown(weekly[e] for e in sorted(weekly)))
    out["by_day"] = by_day
    return out


def _trade_json(t: Trade) -> dict[str, Any]:
    return {
        "moment": t.moment.isoformat(),
        "ticker": t.ticker,
        "side": t.direction,
        "count": _money(t.count),
        "price": _money(t.price),
        "fee": _money(t.fee),
        "result": t.result or None,
        "pnl": None if t.pnl is None else _money(t.pnl),
        "liquidity": t.liquidity,
        **({"posted": t.posted.isoformat()} if t.posted is not None else {}),
    }


def document(outcome: ReplayRun, beside: Sequence[ReplayRun], **run: Any) -> dict[str, Any]:
    """The JSON object: ``trades``, ``weeks``, ``summary``, and what else the run needs to be read."""
    return {
        "trades": [_trade_json(t) for t in outcome.trades],
        "weeks": [
            {"event_ticker": w["event_ticker"], "pnl": _money(w["pnl"]), "trades": w["trades"]}
            for w in outcome.weeks
        ],
        "summary": summary(outcome),
        "run": {**run, "policy": outcome.policy, "probabilities": outcome.source},
        "assumptions": ASSUMPTIONS,
        "beside": {b.source: summary(b) for b in beside},
        "equity": _equity(outcome),
        "beside_equity": {b.source: _equity(b) for b in beside},
        "rejections": outcome.rejections,
        "skipped": outcome.skipped,
    }


def _equity(outcome: ReplayRun) -> list[dict[str, Any]]:
    return [{"at": at.isoformat(), "pnl": _money(v)} for at, v in outcome.equity]


def _cell(value: Any, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def table(doc: dict[str, Any]) -> str:
    """The summary as a table: the strategy, beside it the baseline and doing nothing, then by day."""
    head = (
        f"{'':<14}{'P&L':>10}{'fees':>9}{'trades':>8}{'contracts':>11}{'max DD':>9}"
        f"{'Brier model':>13}{'Brier mkt':>11}{'strikes':>9}"
    )

    def row(name: str, s: dict[str, Any]) -> str:
        return (
            f"{name:<14}{s['pnl']:>10.2f}{s['fees']:>9.2f}{s['trades']:>8}{s['contracts']:>11.0f}"
            f"{s['max_drawdown']:>9.2f}{_cell(s['brier_model'], '.4f'):>13}"
            f"{_cell(s['brier_market'], '.4f'):>11}"
            f"{s['strikes_scored']:>9}"
        )

    lines = [head, row(f"{doc['run']['policy']} (model)", doc["summary"])]
    lines += [row(name, s) for name, s in doc["beside"].items()]
    lines.append("by day")
    lines += [row(f"  {day}", s) for day, s in doc["summary"]["by_day"].items()]
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: str | Path) -> None:
    """The equity curve (strategy, YoY baseline, nothing) and the Brier score by day, model vs market."""
    from datetime import datetime

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    times = [datetime.fromisoformat(p["at"]) for p in doc["equity"]]
    left.plot(times, [p["pnl"] for p in doc["equity"]], label=f"{doc['run']['policy']} (model)")
    for name, curve in doc.get("beside_equity", {}).items():
        left.plot([datetime.fromisoformat(p["at"]) for p in curve], [p["pnl"] for p in curve], label=name)
    left.set_title("Equity (settled P&L, $)")
    left.legend()
    left.tick_params(axis="x", labelrotation=30)
    by_day = doc["summary"]["by_day"]
    xs = range(len(DAYS))
    model = [by_day[d]["brier_model"] or 0 for d in DAYS]
    market = [by_day[d]["brier_market"] or 0 for d in DAYS]
    right.bar([x - 0.2 for x in xs], model, width=0.4, label="model")
    right.bar([x + 0.2 for x in xs], market, width=0.4, label="market (mid)")
    right.set_xticks(list(xs), DAYS)
    right.set_title("Brier score by day (lower is better)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
