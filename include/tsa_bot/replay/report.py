"""The replay's result: the JSON document of ``docs/design.md``, the summary table and the chart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tsa_bot.core.market import ZERO
from tsa_bot.core.scoring import brier
from tsa_bot.pricing.execution import TICK
from tsa_bot.replay.engine import BASELINE, ReplayRun, Score, Trade
from tsa_bot.replay.evidence import RESAMPLES, SEED, bootstrap_total_ci, paired_differences, rounded, verdict
from tsa_bot.replay.execution import FILL_SHARE
from tsa_bot.replay.market import DEPTH, FEES, RUN_TIME

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

ASSUMPTIONS = {
    "moment": f"each day, the end of the first candle ending at or after {RUN_TIME:%H:%M} America/New_York "
    "(before the next day's run); a day without one is not traded",
    "forecast": "only TSA numbers published by the moment (tsa_bot.core.publication), the backtest's "
    "forecast",
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
    "brier": "forecast, market (mid of bid and ask) and pool (what the policy traded on: the forecast "
    "pooled with the market at the weight it learned at the moment's known-days count; the forecast itself "
    "for a policy that does not pool) over the same strikes quoted on both sides, at the same moments, "
    "settled",
    "evidence": "cents_per_contract = pnl / contracts x 100 (null without contracts); weeks_traded: weeks "
    "with a trade; weeks_won: weeks with pnl > 0. pnl_ci90: a percentile bootstrap over the replayed weeks "
    f"({RESAMPLES:,} resamples of as many weeks, with replacement, from numpy's default_rng({SEED})): "
    "the 5th and 95th percentiles of the resampled totals; a week replayed but not traded counts as 0. "
    "vs_baseline_ci90: the same over each week's pnl minus the yoy_baseline run's pnl of the same event "
    "(paired); null for the baseline itself. by_day: the same, for that weekday's trades only",
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


def _cents(pnl: Decimal, contracts: Decimal) -> float | None:
    return None if not contracts else round(float(pnl / contracts * 100), 2)


def _figures(
    trades: Sequence[Trade],
    scores: Sequence[Score],
    weekly: Sequence[tuple[str, Decimal, int]],
    baseline: Mapping[str, Decimal] | None,
) -> dict[str, Any]:
    """The summary's figures of ``trades`` and ``scores``. ``weekly``: every replayed week, in order, as
    (event, P&L, trades) of these trades (0 and 0 where none); ``baseline``: the YoY baseline's P&L of the
    same trades' kind by event (None: no baseline to compare with, or this is the baseline)."""
    settled = [t for t in trades if t.pnl is not None]
    pnl = sum((t.pnl for t in settled), ZERO)  # type: ignore[misc]
    contracts = sum((t.count for t in trades), ZERO)
    pnls = [(e, p) for e, p, _ in weekly]
    vs = None
    if baseline is not None:
        vs = bootstrap_total_ci([d for _, d in paired_differences(pnls, baseline)])
    return {
        "pnl": _money(pnl),
        "fees": _money(sum((t.fee for t in trades), ZERO)),
        "trades": len(trades),
        "contracts": _money(contracts),
        "max_drawdown": _money(max_drawdown(p for _, p in pnls)),
        "brier_model": _brier(scores, "model"),
        "brier_market": _brier(scores, "market"),
        "brier_pool": _brier(scores, "pool"),
        "strikes_scored": len(scores),
        "cents_per_contract": _cents(pnl, contracts),
        "weeks_traded": sum(1 for _, _, n in weekly if n),
        "weeks_won": sum(1 for _, p, _ in weekly if p > 0),
        "pnl_ci90": rounded(bootstrap_total_ci([p for _, p in pnls])),
        "vs_baseline_ci90": rounded(vs),
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


def _weekly_of_day(outcome: ReplayRun, weekday: int) -> list[tuple[str, Decimal, int]]:
    """Every replayed week with the P&L and number of the trades made on ``weekday``, as if it were the
    only day traded (0 and 0 in a week without one)."""
    pnl: dict[str, Decimal] = {}
    count: dict[str, int] = {}
    for t in outcome.trades:
        if t.day.weekday() == weekday:
            pnl[t.event_ticker] = pnl.get(t.event_ticker, ZERO) + (t.pnl or ZERO)
            count[t.event_ticker] = count.get(t.event_ticker, 0) + 1
    return [
        (w["event_ticker"], pnl.get(w["event_ticker"], ZERO), count.get(w["event_ticker"], 0))
        for w in outcome.weeks
    ]


def summary(outcome: ReplayRun, baseline: ReplayRun | None = None) -> dict[str, Any]:
    """``outcome``'s summary; its ``vs_baseline_ci90`` against ``baseline`` (null without one)."""
    weekly = [(w["event_ticker"], w["pnl"], w["trades"]) for w in outcome.weeks]
    against = None if baseline is None else {w["event_ticker"]: w["pnl"] for w in baseline.weeks}
    out = _figures(outcome.trades, outcome.scores, weekly, against)
    out.update(execution_figures(outcome))
    by_day = {}
    for i, name in enumerate(DAYS):
        trades = [t for t in outcome.trades if t.day.weekday() == i]
        scores = [s for s in outcome.scores if s.day.weekday() == i]
        day_against = None
        if baseline is not None:
            day_against = {e: p for e, p, _ in _weekly_of_day(baseline, i)}
        by_day[name] = _figures(trades, scores, _weekly_of_day(outcome, i), day_against)
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
    """The JSON object: ``trades``, ``weeks``, ``summary``, and what else the run needs to be read.

    Each summary's ``vs_baseline_ci90`` is against the run of ``beside`` whose source is the YoY baseline;
    the baseline's own is null (it would be identically 0), as it is for all when no baseline ran.
    """
    baseline = next((b for b in beside if b.source == BASELINE), None)
    return {
        "trades": [_trade_json(t) for t in outcome.trades],
        "weeks": [
            {"event_ticker": w["event_ticker"], "pnl": _money(w["pnl"]), "trades": w["trades"]}
            for w in outcome.weeks
        ],
        "summary": summary(outcome, baseline),
        "run": {**run, "policy": outcome.policy, "probabilities": outcome.source},
        "assumptions": ASSUMPTIONS,
        "beside": {b.source: summary(b, None if b is baseline else baseline) for b in beside},
        "equity": _equity(outcome),
        "beside_equity": {b.source: _equity(b) for b in beside},
        "rejections": outcome.rejections,
        "skipped": outcome.skipped,
    }


def _equity(outcome: ReplayRun) -> list[dict[str, Any]]:
    return [{"at": at.isoformat(), "pnl": _money(v)} for at, v in outcome.equity]


def _cell(value: Any, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def _interval(ci: Sequence[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _won(s: dict[str, Any]) -> str:
    won, traded = s.get("weeks_won"), s.get("weeks_traded")
    return "-" if won is None or traded is None else f"{won}/{traded}"


def _maker_line(s: dict[str, Any]) -> str:
    fills, adverse = s.get("fill_rate"), s.get("adverse_selection")
    filled = "no order posted" if fills is None else f"{fills:.0%} of the contracts posted filled"
    moved = (
        "no fill with a later mid"
        if adverse is None
        else f"the market moved {abs(adverse) * 100:.1f}¢ a contract {'against' if adverse > 0 else 'for'} "
        "the fills by the next moment"
    )
    return f"maker: {filled}; {moved}"


def table(doc: dict[str, Any]) -> str:
    """The summary as a table: the strategy, beside it the baseline and doing nothing, then by day; under
    it, in words, whether the strategy's P&L and its P&L over the YoY baseline's could be luck."""
    head = (
        f"{'':<16}{'P&L':>10}{'P&L 90% CI':>22}{'¢/contract':>11}{'won/traded':>11}{'fees':>9}{'trades':>8}"
        f"{'contracts':>11}{'max DD':>9}{'Brier model':>13}{'Brier pool':>12}{'Brier mkt':>11}{'strikes':>9}"
    )

    def row(name: str, s: dict[str, Any]) -> str:
        return (
            f"{name:<16}{s['pnl']:>10.2f}{_interval(s.get('pnl_ci90')):>22}"
            f"{_cell(s.get('cents_per_contract'), '.2f'):>11}{_won(s):>11}"
            f"{s['fees']:>9.2f}{s['trades']:>8}{s['contracts']:>11.0f}"
            f"{s['max_drawdown']:>9.2f}{_cell(s['brier_model'], '.4f'):>13}"
            f"{_cell(s.get('brier_pool'), '.4f'):>12}{_cell(s['brier_market'], '.4f'):>11}"
            f"{s['strikes_scored']:>9}"
        )

    name = f"{doc['run']['policy']} (model)"
    lines = [head, row(name, doc["summary"])]
    lines += [row(source, s) for source, s in doc["beside"].items()]
    lines.append("by day (that day's trades only; weeks won/traded of those)")
    lines += [row(f"  {day}", s) for day, s in doc["summary"]["by_day"].items()]
    weeks = len(doc["weeks"]) if "weeks" in doc else None  # a saved summary may lack the week list
    lines.append(f"{name}: {verdict(doc['summary'].get('pnl_ci90'), weeks=weeks)}")
    if doc["summary"].get("execution") == "maker":
        lines.append(f"{name}: {_maker_line(doc['summary'])}")
    if BASELINE in doc["beside"]:
        vs = verdict(doc["summary"].get("vs_baseline_ci90"), versus="the YoY baseline", weeks=weeks)
        lines.append(f"{name}: {vs}")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: str | Path) -> None:
    """:func:`chart` as a PNG (or what ``path``'s suffix names) at ``path``."""
    import matplotlib.pyplot as plt

    fig = chart(doc)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def chart(doc: dict[str, Any]) -> Any:
    """The equity curve (strategy, YoY baseline, nothing), each with the 90% interval of its final P&L as a
    bar at its end, the intervals in the title; and the Brier score by day: model, pool, market. A figure."""
    from datetime import datetime

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    name = f"{doc['run']['policy']} (model)"
    curves = [(name, doc["equity"], doc["summary"])]
    curves += [(n, c, doc.get("beside", {}).get(n, {})) for n, c in doc.get("beside_equity", {}).items()]
    for label, curve, s in curves:
        times = [datetime.fromisoformat(p["at"]) for p in curve]
        (line,) = left.plot(times, [p["pnl"] for p in curve], label=label)
        ci = s.get("pnl_ci90")
        if ci is not None and times and ci[1] > ci[0]:
            # The 90% interval of the final total, a translucent bar at the last settlement.
            left.plot(
                [times[-1], times[-1]],
                ci,
                color=line.get_color(),
                linewidth=8,
                alpha=0.3,
                solid_capstyle="butt",
                label=f"{label}: 90% CI {_interval(ci)}",
            )
    summary = doc["summary"]
    said = f"{name} P&L {summary['pnl']:+.2f}, 90% CI {_interval(summary.get('pnl_ci90'))}"
    if summary.get("vs_baseline_ci90") is not None:
        said += f"\nminus YoY baseline's: 90% CI {_interval(summary['vs_baseline_ci90'])}"
    left.set_title(f"Equity (settled P&L, $)\n{said}", fontsize=10)
    left.axhline(0, color="#999", linewidth=0.8)
    left.legend(fontsize=8)
    left.tick_params(axis="x", labelrotation=30)
    by_day = doc["summary"]["by_day"]
    xs = range(len(DAYS))
    model = [by_day[d]["brier_model"] or 0 for d in DAYS]
    pool = [by_day[d].get("brier_pool") or 0 for d in DAYS]
    market = [by_day[d]["brier_market"] or 0 for d in DAYS]
    right.bar([x - 0.27 for x in xs], model, width=0.27, label="model")
    right.bar(list(xs), pool, width=0.27, label="pool traded")
    right.bar([x + 0.27 for x in xs], market, width=0.27, label="market (mid)")
    right.set_xticks(list(xs), DAYS)
    right.set_title("Brier score by day (lower is better)")
    right.legend()
    fig.tight_layout()
    return fig
