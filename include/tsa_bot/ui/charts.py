"""Inline SVG charts drawn in Python: no JavaScript, no CDN, so the page works on a machine offline.

Every chart returns an ``<svg class="chart" data-chart=NAME>`` whose data points carry ``class="pt"``,
or an empty-state ``<p class="empty">`` when there is nothing to draw. Each is kept until its data changes
(``chart_cache``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from tsa_bot.ui.chart_cache import cached_chart

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36
LINE_COLOURS = ("#2b6cb0", "#d69e2e", "#c53030", "#2f855a")  # the series of a line chart, in name order


def empty(message: str) -> str:
    """The empty state of a chart or table."""
    return f'<p class="empty">{escape(message)}</p>'


@dataclass(frozen=True)
class Scale:
    """A linear map from data to pixels."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return round(self.a + (v - self.lo) / span * (self.b - self.a), 1)


def _padded(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    margin = (hi - lo) * pad or abs(hi) * 0.01 or 1.0
    return lo - margin, hi + margin


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _svg(name: str, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" role="img" aria-label="{escape(title)}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        ' xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _axes(
    x: Scale, y: Scale, xlabels: list[tuple[float, str]], ylabels: list[tuple[float, str]]
) -> list[str]:
    out = [
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="#555"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>',
    ]
    for v, label in ylabels:
        py = y(v)
        out.append(f'<line x1="{LEFT}" y1="{py}" x2="{WIDTH - RIGHT}" y2="{py}" stroke="#eee"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{py + 4}" text-anchor="end" font-size="11">{escape(label)}</text>'
        )
    for v, label in xlabels:
        px = x(v)
        out.append(
            f'<text x="{px}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    return out


def _points(pairs: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{px},{py}" for px, py in pairs)


def _millions(v: float) -> str:
    return f"{v / 1e6:.2f}M"


def _every(items: Sequence[Any], most: int) -> list[int]:
    step = max(1, -(-len(items) // most))
    return list(range(0, len(items), step))


@cached_chart
def fan_chart(weeks: Sequence[dict[str, Any]]) -> str:
    """Each week's forecast band (10-90 % and 25-75 %), its median, and the actual weekly mean."""
    if not weeks:
        return empty("No forecasts in the warehouse yet: run the tsa_daily DAG.")
    values = [w[k] for w in weeks for k in ("q10", "q90")] + [w["actual"] for w in weeks if w["actual"]]
    x = Scale(-0.5, len(weeks) - 0.5, LEFT, WIDTH - RIGHT)
    y = Scale(*_padded(values), HEIGHT - BOTTOM, TOP)
    body = _axes(
        x,
        y,
        [(i, weeks[i]["week_start"][5:]) for i in _every(weeks, 8)],
        [(v, _millions(v)) for v in _ticks(y.lo, y.hi)],
    )
    idx = range(len(weeks))
    for lo, hi, colour in (("q10", "q90", "#bee3f8"), ("q25", "q75", "#90cdf4")):
        if len(weeks) == 1:
            half = (x.b - x.a) / 6
            body.append(
                f'<rect class="band" x="{x(0) - half}" y="{y(weeks[0][hi])}" width="{2 * half}"'
                f' height="{round(y(weeks[0][lo]) - y(weeks[0][hi]), 1)}" fill="{colour}"/>'
            )
        else:
            upper = [(x(i), y(weeks[i][hi])) for i in idx]
            lower = [(x(i), y(weeks[i][lo])) for i in reversed(idx)]
            body.append(f'<polygon class="band" points="{_points(upper + lower)}" fill="{colour}"/>')
    median = [(x(i), y(weeks[i]["q50"])) for i in idx]
    if len(weeks) > 1:
        body.append(f'<polyline points="{_points(median)}" fill="none" stroke="#2b6cb0" stroke-width="2"/>')
    for i, (px, py) in zip(idx, median, strict=True):
        w = weeks[i]
        body.append(
            f'<circle class="pt forecast" cx="{px}" cy="{py}" r="3" fill="#2b6cb0">'
            f"<title>{w['week_start']}: median {_millions(w['q50'])}, 80% {_millions(w['q10'])}"
            f"-{_millions(w['q90'])}</title></circle>"
        )
        if w["actual"]:
            body.append(
                f'<circle class="pt actual" cx="{px}" cy="{y(w["actual"])}" r="4" fill="#c53030">'
                f"<title>{w['week_start']}: actual {_millions(w['actual'])}</title></circle>"
            )
    return _svg("fan", "Weekly mean: forecast band vs actual", body)


@cached_chart
def reliability_chart(bins: Sequence[dict[str, Any]]) -> str:
    """Forecast probability against how often the strike was exceeded, per probability bin."""
    if not bins:
        return empty("No scored forecasts yet: calibration appears once a forecast week is complete.")
    x = Scale(0, 1, LEFT, WIDTH - RIGHT)
    y = Scale(0, 1, HEIGHT - BOTTOM, TOP)
    ticks = [(v, f"{v:.1f}") for v in _ticks(0, 1, 6)]
    body = _axes(x, y, ticks, ticks)
    body.append(
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" stroke-dasharray="4 4"/>'
    )
    most = max(b["n"] for b in bins)
    pts = [(x(b["mean_prob"]), y(b["observed"])) for b in bins]
    body.append(f'<polyline points="{_points(pts)}" fill="none" stroke="#2b6cb0"/>')
    for b, (px, py) in zip(bins, pts, strict=True):
        r = round(3 + 5 * (b["n"] / most) ** 0.5, 1)
        body.append(
            f'<circle class="pt" cx="{px}" cy="{py}" r="{r}" fill="#2b6cb0" fill-opacity="0.7">'
            f"<title>forecast {b['mean_prob']:.2f}, observed {b['observed']:.2f}, n={b['n']}</title>"
            "</circle>"
        )
    return _svg("calibration", "Reliability: forecast probability vs observed frequency", body)


@cached_chart
def line_chart(
    name: str, title: str, series: dict[str, Sequence[tuple[str, float]]], fmt: str = "{:.3f}"
) -> str:
    """One line per series over shared x labels (ISO dates), e.g. the Brier score by week."""
    labels = sorted({label for points in series.values() for label, _ in points})
    if not labels:
        return ""
    pos = {label: i for i, label in enumerate(labels)}
    values = [v for points in series.values() for _, v in points]
    x = Scale(-0.5, len(labels) - 0.5, LEFT, WIDTH - RIGHT)
    y = Scale(*_padded(values), HEIGHT - BOTTOM, TOP)
    body = _axes(
        x,
        y,
        [(i, labels[i][:10]) for i in _every(labels, 6)],
        [(v, fmt.format(v)) for v in _ticks(y.lo, y.hi)],
    )
    for k, (key, points) in enumerate(sorted(series.items())):
        colour = LINE_COLOURS[k % len(LINE_COLOURS)]
        pts = [(x(pos[label]), y(v)) for label, v in points]
        if len(pts) > 1:
            body.append(f'<polyline points="{_points(pts)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (label, v), (px, py) in zip(points, pts, strict=True):
            body.append(
                f'<circle class="pt" cx="{px}" cy="{py}" r="3" fill="{colour}">'
                f"<title>{escape(key)} {label[:10]}: {fmt.format(v)}</title></circle>"
            )
        body.append(
            f'<text x="{LEFT + 8}" y="{TOP + 12 + 14 * k}" font-size="12" fill="{colour}">'
            f"{escape(key)}</text>"
        )
    return _svg(name, title, body)


@cached_chart
def strike_chart(strikes: Sequence[dict[str, Any]]) -> str:
    """Per strike: the fair probability (line) against the market's YES bid-ask (bars)."""
    priced = [s for s in strikes if s.get("fair_yes") is not None]
    if not priced:
        return empty("No strike prices yet: the latest run has not priced the week's event.")
    x = Scale(-0.5, len(priced) - 0.5, LEFT, WIDTH - RIGHT)
    y = Scale(0, 1, HEIGHT - BOTTOM, TOP)
    body = _axes(
        x,
        y,
        [(i, f"{priced[i]['strike'] / 1e6:.2f}") for i in _every(priced, 12)],
        [(v, f"{v:.1f}") for v in _ticks(0, 1, 6)],
    )
    half = max(2.0, (x.b - x.a) / len(priced) / 4)
    for i, s in enumerate(priced):
        bid, ask = s.get("yes_bid"), s.get("yes_ask")
        if bid is not None and ask is not None:
            body.append(
                f'<rect class="pt market" x="{x(i) - half}" y="{y(ask)}" width="{2 * half}"'
                f' height="{max(1.0, round(y(bid) - y(ask), 1))}" fill="#fbd38d" stroke="#d69e2e">'
                f"<title>{s['strike']}: YES bid {bid:.2f} / ask {ask:.2f}</title></rect>"
            )
    pts = [(x(i), y(s["fair_yes"])) for i, s in enumerate(priced)]
    body.append(f'<polyline points="{_points(pts)}" fill="none" stroke="#2b6cb0" stroke-width="2"/>')
    for s, (px, py) in zip(priced, pts, strict=True):
        body.append(
            f'<circle class="pt fair" cx="{px}" cy="{py}" r="3" fill="#2b6cb0">'
            f"<title>{s['strike']}: fair {s['fair_yes']:.3f}</title></circle>"
        )
    body.append(
        f'<text x="{WIDTH - RIGHT - 4}" y="{TOP + 12}" text-anchor="end" font-size="12" fill="#2b6cb0">'
        'fair P(above)</text><text x="{0}" y="{1}" text-anchor="end" font-size="12" fill="#d69e2e">'
        "market YES bid-ask</text>".format(WIDTH - RIGHT - 4, TOP + 26)
    )
    return _svg("strikes", "Fair probability vs market bid/ask per strike", body)
