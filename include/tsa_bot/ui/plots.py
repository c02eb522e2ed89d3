"""The market charts, drawn with matplotlib and inlined as SVG: grouped bars and dated lines of several
sources are what matplotlib does in a few lines and the hand-built helpers of ``charts`` would need anew.
Drawing one takes a tenth of a second or more: each is kept until its data changes (``chart_cache``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from tsa_bot.ui.chart_cache import cached_chart
from tsa_bot.ui.charts import empty

MODEL, MARKET = "#2b6cb0", "#dd6b20"
MODE_COLOURS = {"paper": "#2f855a", "demo": "#805ad5", "live": "#c53030"}
REPLAY = "#1a202c"
BESIDE = {"yoy_baseline": ("#718096", "--"), "nothing": ("#a0aec0", ":")}


def _svg(fig: Figure, name: str, title: str) -> str:
    """The figure as an inline ``<svg class="chart" id="chart-NAME">`` with a title, text kept as text."""
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    svg = out.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'(<svg[^>]*?)\s(width|height)="[^"]*"', r"\1", svg, count=1)
    svg = re.sub(r'(<svg[^>]*?)\s(width|height)="[^"]*"', r"\1", svg, count=1)
    return svg.replace(
        "<svg ",
        f'<svg class="chart" id="chart-{name}" role="img" aria-label="{escape(title)}" ',
        1,
    ).replace(">", f"><title>{escape(title)}</title>", 1)


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=(6.4, 3.0), dpi=100)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#edf2f7")
    ax.set_axisbelow(True)
    return fig, ax


@cached_chart
def brier_by_day_chart(by_day: Sequence[Mapping[str, Any]]) -> str:
    """Bars per weekday: the model's Brier score beside the market's (lower is better)."""
    if not any(d["strikes_scored"] for d in by_day):
        return empty("No settled week with both a model and a market price yet: nothing to score.")
    fig, ax = _figure()
    x = range(len(by_day))
    width = 0.38
    for offset, key, label, colour in (
        (-1, "brier_model", "model", MODEL),
        (1, "brier_market", "market", MARKET),
    ):
        values = [d[key] if d[key] is not None else float("nan") for d in by_day]
        ax.bar([i + offset * width / 2 for i in x], values, width, label=label, color=colour)
    ax.set_xticks(list(x), [f"{d['day']}\n{d['strikes_scored']}" for d in by_day])
    ax.set_ylabel("Brier score", fontsize=8)
    ax.set_xlabel("trading day, New York (two-sided strikes scored)", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    return _svg(fig, "brier-by-day", "Brier score by day of the week: model vs market (strikes scored)")


def _at(text: str) -> dt.datetime:
    """An ISO date or timestamp as a naive UTC datetime, so dates and offsets share one axis."""
    value = dt.datetime.fromisoformat(text)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


@cached_chart
def equity_chart(replay: Mapping[str, Any] | None, pnl: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """Cumulative P&L net of fees: the latest replay (and its baselines) beside paper/demo trading."""
    lines: list[tuple[str, list[tuple[dt.datetime, float]], str, str]] = []
    if replay:
        policy = replay["run"].get("policy", "strategy")
        lines.append(
            (f"replay ({policy})", [(_at(p["at"]), p["pnl"]) for p in replay["equity"]], REPLAY, "-")
        )
        for source, points in sorted(replay.get("beside_equity", {}).items()):
            colour, style = BESIDE.get(source, ("#a0aec0", ":"))
            lines.append((f"replay {source}", [(_at(p["at"]), p["pnl"]) for p in points], colour, style))
    for mode, rows in sorted(pnl.items()):
        points = [(_at(r["event_date"]), r["cumulative"]) for r in rows]
        lines.append((mode, points, MODE_COLOURS.get(mode, "#2b6cb0"), "-"))
    lines = [line for line in lines if line[1]]
    if not lines:
        return empty("No equity yet: run tsabot replay, or let a paper/demo week settle.")
    fig, ax = _figure()
    for label, points, colour, style in lines:
        xs, ys = zip(*points, strict=True)
        # Each line's group gets an id (``equity-paper``, ``equity-replay-kelly``), one marker per point.
        line_id = "equity-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        ax.step(
            xs,
            ys,
            where="post",
            label=label,
            color=colour,
            linestyle=style,
            marker=".",
            markersize=3,
            gid=line_id,
        )
    ci = replay["summary"].get("pnl_ci90") if replay else None
    if replay and replay["equity"] and isinstance(ci, list) and len(ci) == 2 and None not in ci:
        # The 90% interval of the replay's total (a bootstrap over its weeks), a bar at its last point.
        end = _at(replay["equity"][-1]["at"])
        ax.plot(
            [end, end],
            ci,
            color=REPLAY,
            linewidth=7,
            alpha=0.25,
            solid_capstyle="butt",
            label=f"replay 90% CI {ci[0]:+,.2f} … {ci[1]:+,.2f}",
            gid="equity-replay-ci",
        )
    ax.axhline(0, color="#999", linewidth=0.8)
    ax.set_ylabel("P&L ($)", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return _svg(fig, "equity", "Equity: cumulative P&L of the replay and of paper/demo trading")
