"""The HTML page, rendered on the server from the query results: inline CSS and SVG, no script."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any
from urllib.parse import quote

from tsa_bot.replay.evidence import verdict
from tsa_bot.ui import charts, plots
from tsa_bot.ui.queries import DAG_ID

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#1a202c;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #e2e8f0}
h3{font-size:15px;margin:16px 0 6px}.muted{color:#718096}.grid{display:flex;flex-wrap:wrap;gap:16px}
.card{border:1px solid #e2e8f0;border-radius:6px;padding:8px 12px;min-width:160px}
.card b{display:block;font-size:18px}table{border-collapse:collapse;font-size:13px;margin:4px 0 12px}
th,td{border-bottom:1px solid #edf2f7;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f7fafc}td.l,th.l{text-align:left}.empty{color:#718096;font-style:italic}
.empty-state{border:2px dashed #cbd5e0;border-radius:8px;padding:24px;font-size:16px}
.pos{color:#276749}.neg{color:#c53030}.status-finished{color:#276749}.status-skipped{color:#b7791f}
.status-running{color:#2b6cb0}.charts{display:flex;flex-wrap:wrap;gap:12px}
.panel{margin:0;border:1px solid #e2e8f0;border-radius:6px;padding:6px;flex:1 1 520px;max-width:660px}
figcaption{font-weight:600;font-size:14px;margin:2px 4px 6px}
svg.chart{background:#fff;border:1px solid #edf2f7;width:100%;height:auto}
#replay-evidence table{font-size:12px}#replay-evidence td{white-space:nowrap}
.evidence{font-size:13px;margin:4px}
"""
RUN_TASKS = ("fetch_market", "price", "decide", "place_orders", "reconcile")
DECISION_COLUMNS = [("ticker", "l"), ("action", "l"), ("count", ""), ("limit", ""), ("fair", "")]
DECISION_COLUMNS += [("market", ""), ("EV/contract", "")]
DECISION_COLUMNS.append(("reason", "l"))
ORDER_COLUMNS = [("order", "l"), ("ticker", "l"), ("side", "l"), ("YES price", ""), ("count", "")]
ORDER_COLUMNS += [("filled", ""), ("role", "l"), ("status", "l"), ("note", "l")]


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float) and spec:
        return format(value, spec)
    return escape(str(value))


def _when(value: str | None) -> str:
    """An ISO timestamp to the minute: ``2026-01-01 14:30 UTC``."""
    if not value:
        return "–"
    text = value[:16].replace("T", " ")
    return escape(text + (" UTC" if value.endswith("+00:00") else value[26:]))


def _money(value: Any) -> str:
    if value is None:
        return "–"
    cls = "pos" if value > 0 else "neg" if value < 0 else ""
    return f'<span class="{cls}">{value:+,.2f}</span>'


def run_link(base: str, run_id: str | None, task: str | None = None, label: str | None = None) -> str:
    """A link to the Airflow run (or one task's logs in it), leaving the iframe."""
    if not run_id:
        return escape(label or "–")
    href = f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
    if task:
        href += f"/tasks/{task}"
    return f'<a href="{escape(href)}" target="_top">{escape(label or task or run_id)}</a>'


def table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], none: str) -> str:
    """A table from already escaped cells; ``columns`` are (title, 'l' or '') for alignment."""
    if not rows:
        return charts.empty(none)
    head = "".join(f'<th class="{a}">{escape(t)}</th>' for t, a in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="{a}">{c}</td>' for (_, a), c in zip(columns, r, strict=True)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _this_week(data: dict[str, Any], base: str) -> str:
    f = data["forecast"]
    if f is None:
        return charts.empty("No forecast yet: the forecast task of tsa_daily has not run on this warehouse.")
    known = ", ".join(f"{k['day'][5:]}: {k['passengers']:,}" for k in data["known"]) or "none"
    q = f["quantiles"]
    cards = [
        ("Week", f["week_start"]),
        ("As of", f"{f['as_of']} ({f['known_days']} days known)"),
        ("Forecast mean", f"{f['mean']:,.0f}"),
        ("80% interval", f"{q.get('0.10', 0):,.0f} – {q.get('0.90', 0):,.0f}"),
    ]
    out = ['<div class="grid" id="forecast-cards">']
    out += [f'<div class="card"><span class="muted">{t}</span><b>{escape(v)}</b></div>' for t, v in cards]
    out.append("</div>")
    out.append(
        f"<p>Known days: {escape(known)}. Forecast by {run_link(base, f['airflow_run_id'], 'forecast')}"
        f" ({escape(f['model_version'])}).</p>"
    )
    out.append(
        table(
            [(f"q{k[2:]}", "") for k in q],
            [[f"{v:,.0f}" for v in q.values()]],
            "no quantiles",
        )
    )
    return "".join(out)


def strikes_chart_panel(data: dict[str, Any], base: str) -> str:
    """The per-strike chart with its heading."""
    run = data["run"]
    title = "Fair probability vs market"
    if run:
        title = (
            f"{escape(run['event_ticker'])}: fair vs market ({escape(run['mode'])}, "
            f"{run_link(base, run['airflow_run_id'], 'price', 'price task')})"
        )
    return _panel(title, charts.strike_chart(data["strikes"]))


def _panel(title: str, body: str) -> str:
    return f'<figure class="panel"><figcaption>{title}</figcaption>{body}</figure>'


def strikes_table(data: dict[str, Any]) -> str:
    """Every strike: fair probability, bid/ask, fee, edge, position and the decision with its reason."""
    out = []
    rows = []
    for s in data["strikes"]:
        edge = s.get("best_edge")
        rows.append(
            [
                f"{s['strike'] / 1e6:.2f}M",
                _fmt(s.get("fair_yes"), ".3f"),
                _fmt(s.get("yes_bid"), ".2f"),
                _fmt(s.get("yes_ask"), ".2f"),
                _fmt(s.get("fee_yes"), ".4f"),
                "–" if edge is None else f"{edge:+.3f} {escape(s['best_side'] or '')}",
                _fmt(s.get("position"), ",.0f"),
                _fmt(s.get("action")),
                _fmt(s.get("reason")),
            ]
        )
    out.append(
        table(
            [
                ("strike", "l"),
                ("fair P(above)", ""),
                ("YES bid", ""),
                ("YES ask", ""),
                ("fee", ""),
                ("edge net of fee", ""),
                ("position", ""),
                ("decision", "l"),
                ("reason", "l"),
            ],
            rows,
            "No strikes priced yet.",
        )
    )
    return "".join(out)


def _orders(data: dict[str, Any], base: str) -> str:
    runs = data["runs"]
    if not runs:
        return charts.empty("No trading runs yet.")
    out = []
    for run in runs:
        aid = run["airflow_run_id"]
        tasks = " · ".join(run_link(base, aid, t) for t in RUN_TASKS) if aid else ""
        status = escape(run["status"] or "")
        skip = f" — {escape(run['skip_reason'])}" if run.get("skip_reason") else ""
        out.append(
            f'<div class="run" data-run-id="{escape(run["run_id"])}"><h3>'
            f"{run_link(base, aid, label=run['run_id'])} · {escape(run['mode'])} · "
            f"{escape(run['event_ticker'])} · "
            f'<span class="status-{status}">{status}</span>{skip}</h3>'
            f'<p class="muted">started {_when(run["started_at"])}{" · logs: " + tasks if tasks else ""}</p>'
        )
        acted = [d for d in run["decisions"] if d["action"] != "none"]
        passed = len(run["decisions"]) - len(acted)
        out.append(
            table(
                DECISION_COLUMNS,
                [
                    [
                        escape(d["ticker"]),
                        escape(d["action"]),
                        _fmt(d["count"], ",.0f"),
                        _fmt(d["limit_price"], ".2f"),
                        _fmt(d["fair_yes"], ".3f"),
                        _fmt(d["market_yes"], ".3f"),
                        _fmt(d["ev_per_contract"], "+.4f"),
                        escape(d["reason"]),
                    ]
                    for d in acted
                ],
                "no buy decision in this run",
            )
        )
        if passed:
            out.append(f'<p class="muted">{passed} strikes passed (no edge or sized to zero).</p>')
        out.append(
            table(
                ORDER_COLUMNS,
                [
                    [
                        escape((o["order_id"] or o["client_order_id"])[-12:]),
                        escape(o["ticker"]),
                        escape(o["direction"]),
                        _fmt(o["yes_price"], ".2f"),
                        _fmt(o["count"], ",.0f"),
                        _fmt(o["filled_count"], ",.0f"),
                        escape(o.get("liquidity") or "taker"),
                        escape(o["status"]),
                        ("already placed; " if o["already_existed"] else "") + _fmt(o["status_reason"] or ""),
                    ]
                    for o in run["orders"]
                ],
                "no orders",
            )
        )
        fills = run["fills"]
        if fills:
            out.append(_fills_table(run["run_id"], fills))
            out.append(f'<p class="fills">{_fills_by_role(fills)}</p>')
        out.append(
            table(
                [("ticker", "l"), ("stage", "l"), ("code", "l"), ("reason", "l")],
                [
                    [escape(r["ticker"]), escape(r["stage"]), escape(r["code"]), escape(r["reason"])]
                    for r in run["rejections"]
                ],
                "no rejections",
            )
        )
        out.append("</div>")
    return "".join(out)


def _fills_table(run_id: str, fills: Sequence[dict[str, Any]]) -> str:
    """Each fill of a run's orders: when, what, at what YES price, its role (maker: the fill met our resting
    order, ``is_taker`` false; taker: our order met the book) and the fee it paid."""
    rows = [
        [
            _when(f["filled_at"]),
            escape(f["ticker"]),
            escape(f.get("direction") or ""),
            _fmt(f["count"], ",.0f"),
            _fmt(f["yes_price"], ".2f"),
            "taker" if f["is_taker"] else "maker",
            _fmt(f["fee"], ".4f"),
        ]
        for f in fills
    ]
    columns = [("filled", "l"), ("ticker", "l"), ("side", "l"), ("count", ""), ("YES price", "")]
    columns += [("role", "l"), ("fee", "")]
    return f'<div class="fills" id="fills-{escape(run_id)}">' + table(columns, rows, "no fills") + "</div>"


def _fills_by_role(fills: Sequence[dict[str, Any]]) -> str:
    """``3 fills, 25 contracts: as a maker 20 contracts, fees $0.00; as a taker 5, fees $0.09.``"""
    contracts = sum(f["count"] for f in fills)
    parts = []
    for role, taker in (("maker", False), ("taker", True)):
        mine = [f for f in fills if bool(f["is_taker"]) is taker]
        if mine:
            # Summed exactly (the query's floats back to their decimals), then to the cent half up: three
            # fills of $0.005 are $0.02, not a binary float's $0.01.
            fees = sum((Decimal(str(f["fee"])) for f in mine), Decimal(0))
            cents = fees.quantize(Decimal("0.01"), ROUND_HALF_UP)
            parts.append(f"as a {role} {sum(f['count'] for f in mine):,.0f} contracts, fees ${cents:,.2f}")
    return f"{len(fills)} fills, {contracts:,.0f} contracts: {'; '.join(parts)}."


def _age(seconds: Any) -> str:
    if seconds is None:
        return "–"
    minutes = int(seconds) // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    return f"{days} d {hours} h" if days else f"{hours} h {mins} min" if hours else f"{mins} min"


def _cents_apart(dollars: float) -> str:
    """A price difference in cents, to a tenth where Kalshi's tick is finer than a cent: ``2¢``, ``0.5¢``."""
    cents = round(abs(dollars) * 100, 1)
    return f"{cents:.0f}¢" if cents == int(cents) else f"{cents:.1f}¢"


def _against_book(o: dict[str, Any]) -> str:
    """Where a resting order stands against its market's book (its side's bid and offer), in words and
    cents; ``from_bid`` is the order's price minus the bid, computed exactly by the query."""
    price, bid, ask, apart = o["price"], o["bid"], o["ask"], o.get("from_bid")
    if bid is None and ask is None:
        return "no book recorded" if o["book_at"] is None else "the book was empty"
    if bid is None or apart is None:
        where = "alone on its side"
    elif apart == 0:
        where = "at the bid"
    elif apart > 0:
        where = f"inside the spread, {_cents_apart(apart)} above the bid"
    else:
        where = f"behind the bid by {_cents_apart(apart)}"
    if ask is not None and price >= ask:
        where += f" (the offer {ask:.2f} has come to it)"
    return where


def resting_orders(data: dict[str, Any]) -> str:
    """Our resting orders with their age and their price against the latest book of their market (of the
    same mode), and when that book was taken."""
    rows = [
        [
            escape(o["mode"]),
            escape(o["ticker"]),
            escape(o["direction"]),
            _fmt(o["price"], ".2f"),
            _fmt(o["remaining"], ",.0f"),
            escape(o["liquidity"]),
            _age(o["age_s"]),
            _fmt(o["bid"], ".2f"),
            _fmt(o["ask"], ".2f"),
            escape(_against_book(o)),
            _when(o["book_at"]),
            _when(o["expires_at"]) if o["expires_at"] else "–",
        ]
        for o in data["orders"]
    ]
    columns = [("mode", "l"), ("ticker", "l"), ("side", "l"), ("price", ""), ("left", ""), ("role", "l")]
    columns += [("age", ""), ("bid", ""), ("offer", ""), ("against the book", "l"), ("book taken", "l")]
    columns.append(("expires", "l"))
    return '<div id="resting-orders">' + table(columns, rows, "No resting orders.") + "</div>"


def _shares(r: dict[str, Any], forecast_pool: str) -> list[str]:
    """The pool's weights at one known-days count: Prophet, the YoY baseline, the market (they sum to 1).
    The baseline's share is the one the count's latest forecast was pooled at (none: Prophet alone)."""
    market = Decimal(str(r["market_weight"]))
    baseline = r.get("baseline_weight")
    if baseline is None and (r.get("forecast_version") is not None or forecast_pool == "off"):
        baseline = 0.0  # the latest forecast at this count, or the setting, is Prophet alone
    if baseline is None:
        forecast = [f"{1 - market:.2f} with the YoY baseline", "learned at the first forecast"]
    else:
        share = Decimal(repr(float(baseline)))
        forecast = [f"{(1 - market) * (1 - share):.2f}", f"{(1 - market) * share:.2f}"]
    scope = "" if r["market_weight_source"] != "learned" else f", {escape(r['market_weight_scope'])}"
    source = f"{escape(r['market_weight_source'])}, {r['market_weight_weeks']} weeks{scope}"
    return [*forecast, f"{market:.2f} ({source})"]


def records_table(data: dict[str, Any]) -> str:
    """The pool the bot trades on and its record, per known-days count, as of now (``ui.queries.records``)."""
    said = {"beats": "full size", "unclear": "part size", "worse": "no trade"}
    rows = [
        [
            str(r["known_days"]),
            *_shares(r, data["forecast_pool"]),
            str(r["weeks"]),
            f"{r['strikes']:,}",
            _fmt(r["brier_pool"], ".4f"),
            _fmt(r["brier_market"], ".4f"),
            "–" if not r["diff_ci90"] else f"{r['diff_ci90'][0]:+.4f} … {r['diff_ci90'][1]:+.4f}",
            escape(r["verdict"]),
            f"{escape(str(r['factor']))} ({said.get(r['verdict'], '')})",
        ]
        for r in data["by_known_days"]
    ]
    columns = [("known days", ""), ("Prophet", "l"), ("YoY", "l"), ("market", "l"), ("weeks", "")]
    columns += [("strikes", ""), ("Brier pool", ""), ("Brier market", ""), ("market − pool, 90%", "")]
    columns += [("verdict", "l"), ("size", "l")]
    head = (
        f'<p class="muted">As of {_when(data["as_of"])}: the weights of the pool the bot trades on at each'
        " count of known days (the YoY baseline's share as the count's latest forecast was pooled, 0 for"
        " Prophet alone; the market's learned from the settled weeks' moments at that count, or from every"
        " moment while fewer than 8 weeks have one there), and that pool's record against the market"
        f" ({data['history_weeks']} of the weeks from the quote history); two-sided strikes of settled weeks"
        " only.</p>"
    )
    return '<div id="records">' + head + table(columns, rows, "no record") + "</div>"


def maker_vs_taker(executions: dict[str, dict[str, Any]], comparison: dict[str, Any] | None = None) -> str:
    """The latest replay of each execution side by side, and below whether the maker beat the taker (its
    P&L minus the taker's week by week, with the 90% interval) or why the two cannot be compared."""
    if not executions:
        return ""
    rows = []
    for execution, r in executions.items():
        s = r["summary"]
        adverse = s.get("adverse_selection")
        rows.append(
            [
                escape(execution),
                escape(str(r["run"].get("policy", ""))),
                f"{escape(str(r['run'].get('start')))} … {escape(str(r['run'].get('end')))}",
                _money(s.get("pnl")),
                _interval(s.get("pnl_ci90")),
                _cents(s.get("cents_per_contract")),
                "–" if s.get("fill_rate") is None else f"{s['fill_rate']:.0%}",
                "–" if adverse is None else f"{adverse * 100:+.2f}¢",
                _money(s.get("fees")),
                _when(r.get("saved_at")),
            ]
        )
    columns = [("execution", "l"), ("policy", "l"), ("weeks", "l"), ("P&L", ""), ("P&L 90% CI", "")]
    columns += [("per contract", ""), ("fill rate", ""), ("adverse selection", ""), ("fees", "")]
    columns.append(("saved", "l"))
    return (
        '<div id="maker-vs-taker"><h3>Maker against taker (the latest replay of each)</h3>'
        + table(columns, rows, "")
        + f'<p class="evidence">{_maker_said(executions, comparison)}</p></div>'
    )


def _maker_said(executions: dict[str, dict[str, Any]], comparison: dict[str, Any] | None) -> str:
    """Under the two replays, in words: the missing one and how to get it, why they are not comparable,
    or the maker's P&L minus the taker's week by week with what its interval says."""
    missing = [e for e in ("taker", "maker") if e not in executions]
    if missing:
        e = missing[0]
        return (
            f"No {e} replay yet: run <code>tsabot replay --execution {e}</code> (or the tsa_replay DAG with "
            f"execution={e}) over the same weeks to put it beside."
        )
    if comparison is None:
        return ""
    if not comparison["alike"]:
        differ = escape("; ".join(comparison["differ"]))
        return (
            f"The two replays are not alike ({differ}): replay both over the same weeks and policy to "
            "compare them."
        )
    if not comparison["weeks"]:
        return "These replays were saved without their weeks: replay again for maker − taker week by week."
    said = verdict(comparison["ci90"], versus="taker", weeks=comparison["weeks"])
    return (
        f"maker − taker, week by week over {comparison['weeks']} weeks: P&amp;L {_money(comparison['pnl'])},"
        f" 90% CI {_interval(comparison['ci90'])} — maker: {escape(said)}."
    )


def history_panels(data: dict[str, Any]) -> list[str]:
    """The history charts, each in its panel (the P&L by mode is in the equity chart)."""
    brier = {"brier": [(r["week_start"], r["brier"]) for r in data["brier"]]}
    return [
        _panel(
            "Weekly mean: forecast band (earliest of each week) vs actual", charts.fan_chart(data["weeks"])
        ),
        _panel("Calibration: forecast P(above) vs observed", charts.reliability_chart(data["calibration"])),
        _panel(
            "Brier score by week (lower is better)",
            charts.line_chart("brier", "Brier score by week", brier)
            or charts.empty("No scored weeks yet: scores appear once a week is complete."),
        ),
    ]


def market_panels(data: dict[str, Any]) -> list[str]:
    """Model against market: Brier by weekday, and the equity of the replay and of paper/demo trading."""
    overall = data["brier_by_day"]["overall"]
    said = ""
    if overall["strikes_scored"]:
        said = (
            f" — all days: model {overall['brier_model']:.4f}, market {overall['brier_market']:.4f}"
            f" over {overall['strikes_scored']} strikes"
        )
    replay, settled = data["equity"]["replay"], data["equity"]["settled"]
    equity_said = ""
    if replay:
        s = replay["summary"]
        equity_said = (
            f" — replay {escape(str(replay['run'].get('start')))} … {escape(str(replay['run'].get('end')))}"
            f" P&amp;L {_money(s.get('pnl'))} (90% CI {_interval(s.get('pnl_ci90'))}),"
            f" {_cents(s.get('cents_per_contract'))}/contract, weeks won/traded {_won(s)},"
            f" saved {_when(replay.get('saved_at'))}"
        )
    totals = [f"{escape(m)} {_money(rows[-1]['cumulative'])}" for m, rows in sorted(settled.items()) if rows]
    if totals:
        equity_said += f" — settled {' · '.join(totals)}"
    return [
        _panel(
            f"Brier by day of the week, model vs market (lower is better){said}",
            plots.brier_by_day_chart(data["brier_by_day"]["by_day"]) + _scored_from(overall),
        ),
        _panel(
            f"Equity: replay and paper/demo, net of fees{equity_said}",
            plots.equity_chart(replay, settled)
            + replay_evidence(replay)
            + maker_vs_taker(data.get("executions", {}), data.get("maker_minus_taker")),
        ),
    ]


def _interval(ci: Any) -> str:
    """A ``[low, high]`` interval in dollars; "–" when missing (a replay saved before it was computed)."""
    if not isinstance(ci, list | tuple) or len(ci) != 2 or None in ci:
        return "–"
    return f"{_money(ci[0])} … {_money(ci[1])}"


def _cents(value: Any) -> str:
    return "–" if value is None else f"{value:+.2f}¢"


def _won(s: dict[str, Any]) -> str:
    won, traded = s.get("weeks_won"), s.get("weeks_traded")
    return "–" if won is None or traded is None else f"{won}/{traded}"


def replay_evidence(replay: dict[str, Any] | None) -> str:
    """Under the equity chart: the replay's P&L with its 90% interval, cents per contract and weeks won of
    weeks traded, for the strategy and each run beside it, and in words whether the P&L could be luck."""
    if not replay:
        return ""
    policy = replay["run"].get("policy", "strategy")
    runs = [(f"{policy} (model)", replay["summary"]), *replay.get("beside", {}).items()]
    rows = [
        [
            escape(name),
            _money(s.get("pnl")),
            _interval(s.get("pnl_ci90")),
            _cents(s.get("cents_per_contract")),
            _won(s),
            _interval(s.get("vs_baseline_ci90")),
        ]
        for name, s in runs
    ]
    out = table(
        [
            ("replay", "l"),
            ("P&L", ""),
            ("P&L 90% CI", ""),
            ("per contract", ""),
            ("weeks won/traded", ""),
            ("minus YoY baseline, 90% CI", ""),
        ],
        rows,
        "no replay summary",
    )
    s = replay["summary"]
    if "pnl_ci90" not in s:
        said = "This replay was saved before intervals were computed: run tsabot replay again to see them."
    else:
        weeks = replay.get("weeks_replayed")
        said = f"{policy}: {verdict(s['pnl_ci90'], weeks=weeks)}."
        if s.get("vs_baseline_ci90") is not None:
            vs = verdict(s["vs_baseline_ci90"], versus="the YoY baseline", weeks=weeks)
            said += f" {policy}: {vs}."
    return f'<div id="replay-evidence">{out}<p class="evidence">{escape(said)}</p></div>'


def _scored_from(overall: dict[str, Any]) -> str:
    """Under the Brier chart: how many strikes were scored, from where, and how many were left out."""
    if not overall.get("strikes_scored") and not overall.get("one_sided"):
        return ""
    runs, history = overall.get("runs", 0), overall.get("history_strikes", 0)
    said = (
        f"{overall['strikes_scored']:,} strikes scored, two-sided books only (0 &lt; bid ≤ ask &lt; 1): "
        f"{overall['strikes_scored'] - history:,} from {runs:,} trading runs, {history:,} from the scored "
        f"quote history ({overall.get('history_moments', 0):,} moments)"
    )
    if overall.get("one_sided"):
        said += f"; {overall['one_sided']:,} one-sided or empty books left out"
    return f'<p class="muted" id="strikes-scored">{said}.</p>'


def revisions_table(data: dict[str, Any]) -> str:
    """TSA's revisions of published numbers, newest first."""
    return f"<h3>TSA revisions seen ({data['revision_count']})</h3>" + table(
        [("day", "l"), ("first", ""), ("revised to", ""), ("seen", "l")],
        [
            [escape(r["day"]), f"{r['previous_value']:,}", f"{r['new_value']:,}", _when(r["seen_at"])]
            for r in data["revisions"]
        ],
        "TSA has revised no published number so far.",
    )


def _health(data: dict[str, Any], base: str) -> str:
    ingest, run = data["last_ingest"], data["last_trading_run"]
    cards = [
        ("Newest TSA day", _fmt(data["newest_tsa_date"])),
        ("TSA days stored", f"{data['tsa_days']:,}"),
        ("Last ingest", _when(ingest and (ingest["finished_at"] or ingest["started_at"]))),
        ("Last trading run", _fmt(run and run["status"])),
    ]
    out = ['<div class="grid" id="health-cards">']
    out += [f'<div class="card"><span class="muted">{t}</span><b>{v}</b></div>' for t, v in cards]
    out.append("</div>")
    if ingest:
        missing = ", ".join(ingest["missing_dates"]) or "none"
        out.append(
            f"<p>Ingest {run_link(base, ingest['airflow_run_id'], 'ingest', 'ingest task')}: "
            f"{ingest['rows_seen']:,} rows seen, {ingest['rows_new']:,} new, {ingest['rows_revised']:,} "
            f"revised; missing days: {escape(missing)}.</p>"
        )
    if run:
        skip = f" ({escape(run['skip_reason'])})" if run.get("skip_reason") else ""
        out.append(
            f"<p>Trading run {run_link(base, run['airflow_run_id'], label=run['run_id'])}: "
            f"{escape(run['mode'])}, {escape(run['event_ticker'])}, {escape(run['status'])}{skip}.</p>"
        )
    out.append(
        table(
            [("risk limit", "l"), ("limit", ""), ("in use", "")],
            [
                [escape(r["limit"]), _fmt(r["value"]), "–" if r["used"] is None else f"{r['used']:,.2f}"]
                for r in data["risk_limits"]
            ],
            "No trading run yet, so no risk limits recorded.",
        )
    )
    return "".join(out)


def render_page(data: dict[str, Any] | None, base: str, error: str | None = None) -> str:
    """The whole page; ``data`` is None when the warehouse could not be read (``error`` says why)."""
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>TSA bot</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f'<body><h1>TSA bot · <a href="{escape(base)}/dags/{DAG_ID}" target="_top">{DAG_ID}</a></h1>'
    )
    if data is None:
        return (
            head + f'<div class="empty-state" id="error">Warehouse unavailable: {escape(error or "")}</div>'
        )
    is_empty = (
        data["this_week"]["forecast"] is None
        and not data["orders"]["runs"]
        and data["health"]["last_ingest"] is None
    )
    sections = []
    if is_empty:
        sections.append(
            '<div class="empty-state" id="empty-state">The warehouse is empty: no ingest, forecast or '
            f"trading run yet. Trigger the <b>{DAG_ID}</b> DAG (or run <code>tsabot ingest --offline</code>)"
            " and reload this page.</div>"
        )
    week, history = data["this_week"], data["history"]
    panels = [strikes_chart_panel(week, base), *history_panels(history), *market_panels(data["market"])]
    sections += [
        '<section id="health"><h2>Health</h2>',
        _health(data["health"], base),
        '</section><section id="this-week"><h2>This week</h2>',
        _this_week(week, base),
        '</section><section id="charts"><div class="charts">',
        *panels,
        '</div></section><section id="strikes"><h2>Strikes: fair vs market, edge, position</h2>',
        strikes_table(week),
        '</section><section id="resting"><h2>Resting orders: age, price against the book</h2>',
        resting_orders(data.get("resting", {"orders": []})),
        '</section><section id="record"><h2>Trading by the record: pool vs market per known days</h2>',
        records_table(data["records"]) if data.get("records") else charts.empty("No record yet."),
        '</section><section id="orders"><h2>Latest runs: decisions, orders, fills, rejections</h2>',
        _orders(data["orders"], base),
        '</section><section id="history"><h2>Revisions</h2>',
        revisions_table(history),
        "</section>",
        '<p class="muted">JSON: <a href="api/this-week">this-week</a> · <a href="api/orders">orders</a> · '
        '<a href="api/history">history</a> · <a href="api/market">market</a> · '
        '<a href="api/health">health</a></p>',
    ]
    return head + "".join(sections) + "</body></html>"
