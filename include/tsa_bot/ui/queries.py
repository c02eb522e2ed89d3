"""Read-only warehouse queries for the UI page: each returns plain dicts and lists (JSON-ready).

Every function takes an open connection and tolerates an empty warehouse (it returns empty lists and
``None`` values rather than raising).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.config import get_settings
from tsa_bot.core.market import NEW_YORK, tradable_ask, tradable_bid, trading_day
from tsa_bot.core.scoring import brier
from tsa_bot.pricing.market_implied import (
    LadderQuote,
    MarketViewError,
    implied_probabilities,
)
from tsa_bot.pricing.record import edge_record
from tsa_bot.replay.evidence import bootstrap_total_ci, paired_differences, rounded
from tsa_bot.trading.market_history import scored_history
from tsa_bot.ui.chart_cache import FingerprintCache

DAG_ID = "tsa_daily"
FAN_LEVELS = ("0.05", "0.10", "0.25", "0.50", "0.75", "0.90", "0.95")
LIMIT_KEYS = (
    "max_order_contracts",
    "max_order_cost",
    "max_contracts_per_market",
    "max_event_exposure",
    "max_total_exposure",
    "max_daily_loss",
    "kill_switch",
)


def plain(value: Any) -> Any:
    """Decimals to floats, dates to ISO strings, recursively: what JSON and the page want."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def airflow_run_id(run_key: str | None) -> str | None:
    """The Airflow run id inside a warehouse run key (``tsa_daily/<run_id>``); None for CLI runs."""
    if not run_key or not run_key.startswith(f"{DAG_ID}/"):
        return None
    return run_key.split("/", 1)[1]


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _rows(conn: sa.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def this_week(conn: sa.Connection) -> dict[str, Any]:
    """The latest forecast (week, known days and their numbers, quantiles) and the latest run's strikes."""
    forecast = (
        conn.execute(
            sa.text(
                "select id, run_key, week_start, as_of, known_days, model_version, created_at, mean,"
                " quantiles from forecasts order by as_of desc, created_at desc, id desc limit 1"
            )
        )
        .mappings()
        .first()
    )
    if forecast is None:
        return {"forecast": None, "known": [], "run": None, "strikes": []}
    week = forecast["week_start"]
    known = _rows(
        conn,
        "select day, first_value as passengers from tsa_daily where day >= :w and day < :a order by day",
        w=week,
        a=forecast["as_of"],
    )
    quantiles = {k: float(v) for k, v in forecast["quantiles"].items() if k in FAN_LEVELS}
    # The latest trading run priced against a forecast of this week: the one started last.
    run = (
        conn.execute(
            sa.text(
                "select r.run_id, r.mode, r.event_ticker, r.status, r.skip_reason, r.started_at,"
                " r.finished_at from trading_runs r"
                " where exists (select 1 from trading_quotes q where q.run_id = r.run_id)"
                " order by r.started_at desc limit 1"
            )
        )
        .mappings()
        .first()
    )
    strikes: list[dict[str, Any]]
    if run is not None:
        strikes = _rows(
            conn,
            """
            select q.strike, q.ticker, q.fair_yes, q.raw_fair_yes, q.yes_bid, q.yes_ask, q.no_bid, q.no_ask,
                   q.fee_yes, q.fee_no, q.ev_yes, q.ev_no, q.crossed, q.note,
                   greatest(coalesce(q.ev_yes, -1), coalesce(q.ev_no, -1)) as best_edge,
                   case when coalesce(q.ev_yes, -1) >= coalesce(q.ev_no, -1) then 'yes' else 'no' end
                       as best_side,
                   coalesce(p.position, 0) as position, p.exposure,
                   d.action, d.count as decided_count, d.reason
            from trading_quotes q
            left join trading_positions p on p.run_id = q.run_id and p.ticker = q.ticker
            left join trading_decisions d on d.run_id = q.run_id and d.ticker = q.ticker
            where q.run_id = :r order by q.strike, q.ticker
            """,
            r=run["run_id"],
        )
        for s in strikes:
            if s["best_edge"] is not None and s["best_edge"] == -1:
                s["best_edge"], s["best_side"] = None, None
    else:
        strikes = _rows(
            conn,
            "select strike, prob_above as fair_yes from forecast_strike_probs where forecast_id = :f"
            " order by strike",
            f=forecast["id"],
        )
    out_forecast = {
        k: forecast[k] for k in ("id", "run_key", "week_start", "as_of", "known_days", "model_version")
    }
    out_forecast |= {
        "created_at": forecast["created_at"],
        "mean": float(forecast["mean"]),
        "quantiles": quantiles,
        "airflow_run_id": airflow_run_id(forecast["run_key"]),
    }
    out_run = None
    if run is not None:
        out_run = dict(run) | {"airflow_run_id": airflow_run_id(run["run_id"])}
    return plain({"forecast": out_forecast, "known": known, "run": out_run, "strikes": strikes})


def orders(conn: sa.Connection, runs: int = 5) -> dict[str, Any]:
    """The latest trading runs, each with its decisions, orders, fills and rejections (with reasons)."""
    latest = _rows(
        conn,
        "select run_id, mode, event_ticker, status, skip_reason, backfill, started_at, finished_at, summary"
        " from trading_runs order by started_at desc, run_id limit :n",
        n=runs,
    )
    for run in latest:
        r = run["run_id"]
        run["airflow_run_id"] = airflow_run_id(r)
        run["decisions"] = _rows(
            conn,
            "select ticker, strike, action, count, limit_price, fair_yes, fee_per_contract, ev_per_contract,"
            " reason from trading_decisions where run_id = :r order by strike, ticker",
            r=r,
        )
        implied = _implied_by_run(conn, [r]).get(r, {})
        for d in run["decisions"]:
            d["market_yes"] = implied.get(d["strike"])
        run["orders"] = _rows(
            conn,
            "select client_order_id, order_id, ticker, direction, book_side, yes_price, count, filled_count,"
            " status, already_existed, status_reason, created_at, liquidity from trading_orders"
            " where run_id = :r order by ticker, id",
            r=r,
        )
        run["fills"] = _rows(
            conn,
            "select f.fill_id, f.ticker, o.direction, f.book_side, f.count, f.yes_price, f.fee, f.is_taker,"
            " f.filled_at"
            " from trading_fills f join trading_orders o on o.client_order_id = f.client_order_id"
            " where o.run_id = :r order by f.filled_at, f.id",
            r=r,
        )
        run["rejections"] = _rows(
            conn,
            "select ticker, stage, code, reason, numbers, created_at from trading_rejections"
            " where run_id = :r order by id",
            r=r,
        )
    return plain({"runs": latest})


def resting(conn: sa.Connection) -> dict[str, Any]:
    """Our resting orders by mode, oldest first: age, price (of the side bought), what is left, and the book
    of their market at the latest snapshot a run *of the same mode* took (demo's exchange is not
    production's): that side's best bid and offer (a NO order is read against 1 - YES ask and 1 - YES bid)
    and ``from_bid``, the order's price minus that bid (positive: inside the spread; 0: at the bid;
    negative: behind it; None: no bid on that side)."""
    rows = _rows(
        conn,
        "select o.mode, o.run_id, o.ticker, o.direction, o.yes_price, o.count - o.filled_count as remaining,"
        " o.liquidity, o.created_at, o.expires_at,"
        " extract(epoch from now() - o.created_at)::bigint as age_s,"
        " s.yes_bid, s.yes_ask, s.taken_at as book_at"
        " from trading_orders o left join lateral (select s.yes_bid, s.yes_ask, s.taken_at"
        " from trading_snapshots s join trading_runs r on r.run_id = s.run_id"
        " where s.ticker = o.ticker and r.mode = o.mode order by s.taken_at desc, s.id desc limit 1) s"
        " on true"
        " where o.status = 'resting' order by o.mode, o.created_at, o.id",
    )
    for r in rows:
        yes = r["direction"] == "yes"
        r["price"] = r["yes_price"] if yes else 1 - r["yes_price"]
        bid = r["yes_bid"] if yes else (None if r["yes_ask"] is None else 1 - r["yes_ask"])
        ask = r["yes_ask"] if yes else (None if r["yes_bid"] is None else 1 - r["yes_bid"])
        r["bid"] = tradable_bid(bid)
        r["ask"] = tradable_ask(ask)
        r["from_bid"] = None if r["bid"] is None else r["price"] - r["bid"]
    return plain({"orders": rows})


def records(conn: sa.Connection) -> dict[str, Any]:
    """The pool the bot trades on now, per known-days count: the forecast's share (Prophet, and the YoY
    baseline's part of it as the count's latest forecast was pooled: ``forecasts.baseline_weight``), the
    market's weight learned from the settled weeks at that count (``market_history``), and the record
    against the market (``pricing.record``) that ``recorded`` sizes by; point in time at now, from one read
    of the scored history."""
    now = conn.execute(sa.text("select now()")).scalar_one()
    history = scored_history(conn.engine, now)
    forecast_pool = get_settings().forecast_pool
    latest = {
        r["known_days"]: r
        for r in _rows(
            conn,
            "select distinct on (known_days) known_days, as_of, model_version, baseline_weight from forecasts"
            " order by known_days, created_at desc, id desc",
        )
    }
    out = []
    for k in range(7):
        weight = history.learned_weight(k)
        r = edge_record(history.weeks, now, k, float(weight.weight))
        forecast = latest.get(k, {})
        out.append(
            {
                "known_days": k,
                "forecast_version": forecast.get("model_version"),
                "forecast_as_of": forecast.get("as_of"),
                "baseline_weight": forecast.get("baseline_weight"),
                "market_weight": weight.weight,
                "market_weight_source": weight.source,
                "market_weight_scope": "this count" if weight.known_days == k else "every count",
                "market_weight_weeks": weight.weeks,
                "weeks": r.weeks,
                "strikes": r.strikes,
                "brier_pool": r.brier_pool,
                "brier_market": r.brier_market,
                "diff_ci90": list(r.diff_ci90) if r.diff_ci90 else None,
                "verdict": r.verdict,
                "factor": r.factor,
            }
        )
    return plain(
        {
            "as_of": now,
            "forecast_pool": forecast_pool,
            "history_weeks": len(history.from_history),
            "by_known_days": out,
        }
    )


def history(conn: sa.Connection, calibration_bins: int = 10) -> dict[str, Any]:
    """Forecast vs actual weekly means, calibration, cumulative P&L by mode, Brier by week, revisions."""
    weeks = _rows(
        conn,
        """
        with first_forecast as (
            select distinct on (week_start) id, week_start, known_days, mean, quantiles
            from forecasts order by week_start, known_days, created_at desc, id desc
        ), actual as (
            select date_trunc('week', day)::date as week_start, avg(first_value) as actual, count(*) as n
            from tsa_daily group by 1
        )
        -- The settled (scored) weekly mean; else the mean of a complete week's first-published numbers.
        select f.week_start, f.known_days, f.mean, f.quantiles, coalesce(s.actual_mean, a.actual) as actual
        from first_forecast f left join actual a on a.week_start = f.week_start and a.n = 7
        left join forecast_scores s on s.forecast_id = f.id
        order by f.week_start
        """,
    )
    for w in weeks:
        q = w.pop("quantiles")
        w["q10"], w["q50"], w["q90"] = (float(q[k]) for k in ("0.10", "0.50", "0.90"))
        w["q25"], w["q75"] = float(q["0.25"]), float(q["0.75"])
        w["actual"] = float(w["actual"]) if w["actual"] is not None else None
    calibration = _rows(
        conn,
        """
        select least(floor(p.prob_above * :b)::int, :b - 1) as bin, count(*) as n,
               avg(p.prob_above) as mean_prob,
               avg(case when s.actual_mean > p.strike then 1.0 else 0.0 end) as observed
        from forecast_strike_probs p join forecast_scores s on s.forecast_id = p.forecast_id
        group by 1 order by 1
        """,
        b=calibration_bins,
    )
    brier = _rows(
        conn,
        "select week_start, avg(brier) as brier, avg(log_loss) as log_loss, avg(abs_pct_error) as mape,"
        " avg(case when in_80_interval then 1.0 else 0.0 end) as coverage80, count(*) as forecasts"
        " from forecast_scores group by week_start order by week_start",
    )
    revisions = _rows(
        conn,
        "select day, previous_value, new_value, seen_at from tsa_revisions order by seen_at desc, id desc"
        " limit 50",
    )
    revision_count = conn.execute(sa.text("select count(*) from tsa_revisions")).scalar_one()
    return plain(
        {
            "weeks": weeks,
            "calibration": calibration,
            "pnl": settled_pnl(conn),
            "brier": brier,
            "revisions": revisions,
            "revision_count": revision_count,
        }
    )


def settled_pnl(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Paper/demo/live equity: each settled event's P&L net of fees and the running total, by mode."""
    rows = _rows(
        conn,
        """
        with events as (
            select mode, event_ticker, max(settled_at) as settled_at, sum(pnl) as pnl,
                   -- KXTSAW-26JAN04 closes on 2026-01-04: order events by their week, not settlement time
                   coalesce(to_date(substring(event_ticker from '-([0-9]{2}[A-Z]{3}[0-9]{2})$'), 'YYMONDD'),
                            max(settled_at)::date) as event_date
            from trading_settlements group by mode, event_ticker
        )
        select mode, event_ticker, event_date, settled_at, pnl,
               sum(pnl) over (partition by mode order by event_date, event_ticker) as cumulative
        from events order by mode, event_date, event_ticker
        """,
    )
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_mode.setdefault(row.pop("mode"), []).append(row)
    return plain(by_mode)


def health(conn: sa.Connection) -> dict[str, Any]:
    """Last ingest, newest TSA day, last trading run, and risk limits with their current use."""
    ingest = (
        conn.execute(
            sa.text(
                "select run_key, started_at, finished_at, rows_seen, rows_new, rows_revised, newest_date,"
                " missing_dates from ingest_runs order by started_at desc, id desc limit 1"
            )
        )
        .mappings()
        .first()
    )
    newest = conn.execute(sa.text("select max(day), count(*) from tsa_daily")).one()
    run = (
        conn.execute(
            sa.text(
                "select run_id, mode, event_ticker, status, skip_reason, started_at, finished_at, params"
                " from trading_runs order by started_at desc, run_id limit 1"
            )
        )
        .mappings()
        .first()
    )
    limits: list[dict[str, Any]] = []
    out_run = None
    if run is not None:
        params = run["params"] or {}
        # Exposure now: each market's position as the latest run that recorded it left it.
        exposure = conn.execute(
            sa.text(
                """
                select coalesce(sum(exposure) filter (where event_ticker = :e), 0) as event,
                       coalesce(sum(exposure), 0) as total
                from (select distinct on (ticker) ticker, event_ticker, exposure from trading_positions
                      where mode = :m order by ticker, recorded_at desc, id desc) latest
                """
            ),
            {"e": run["event_ticker"], "m": run["mode"]},
        ).one()
        loss_today = conn.execute(
            sa.text(
                "select coalesce(-sum(pnl), 0) from trading_settlements"
                " where mode = :m and settled_at::date = current_date"
            ),
            {"m": run["mode"]},
        ).scalar_one()
        used = {
            "max_event_exposure": exposure.event,
            "max_total_exposure": exposure.total,
            "max_daily_loss": max(loss_today, 0),
        }
        for key in LIMIT_KEYS:
            if key in params:
                limits.append({"limit": key, "value": params[key], "used": used.get(key)})
        out_run = {k: v for k, v in run.items() if k != "params"}
        out_run["airflow_run_id"] = airflow_run_id(run["run_id"])
    out_ingest = None
    if ingest is not None:
        out_ingest = dict(ingest) | {"airflow_run_id": airflow_run_id(ingest["run_key"])}
    return plain(
        {
            "last_ingest": out_ingest,
            "newest_tsa_date": newest[0],
            "tsa_days": newest[1],
            "last_trading_run": out_run,
            "risk_limits": limits,
        }
    )


def _implied_by_run(conn: sa.Connection, run_ids: list[str]) -> dict[str, dict[int, float]]:
    """Each run's market-implied P(mean > strike) from the ladder it quoted (bids and asks at its moment)."""
    rows = conn.execute(
        sa.text("select run_id, strike, yes_bid, yes_ask from trading_quotes where run_id = any(:r)"),
        {"r": run_ids},
    ).mappings()
    return _implied(rows)


def _implied(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[int, float]]:
    """Per run, ``implied_probabilities`` of its rows' ladder; a ladder with no usable quote maps to {}."""
    ladders: dict[str, list[LadderQuote]] = {}
    for row in rows:
        ladders.setdefault(row["run_id"], []).append(
            LadderQuote(row["strike"], row["yes_bid"], row["yes_ask"])
        )
    out: dict[str, dict[int, float]] = {}
    for run_id, ladder in ladders.items():
        try:
            out[run_id] = implied_probabilities(ladder)
        except MarketViewError:
            out[run_id] = {}
    return out


# Each week's settlement mean: the scored one, else the mean of a complete week's first-published numbers
# (what Kalshi settles on). Weeks start on Monday (date_trunc's week).
WEEK_MEANS = r"""
weeks as (
    select coalesce(s.week_start, f.week_start) as week_start, coalesce(s.actual_mean, f.mean) as actual_mean
    from (select week_start, max(actual_mean) as actual_mean from forecast_scores group by week_start) s
    full join (
        select date_trunc('week', day)::date as week_start, avg(first_value) as mean
        from tsa_daily group by 1 having count(*) = 7
    ) f on f.week_start = s.week_start
)"""
# KXTSAW-26JAN04 is the week that ends on Sunday 2026-01-04.
_EVENT_MONDAY = r"to_date(substring({} from '-([0-9]{{2}}[A-Z]{{3}}[0-9]{{2}})$'), 'YYMONDD') - 6"
# Every quoted strike with its run's moment, the model's fair P(YES), the ladder's quote and how it settled.
MARKET_ROWS = rf"""
with {WEEK_MEANS}, settled as (
    select distinct on (ticker) ticker, result from trading_settlements order by ticker, id
), events as (
    select e.event_ticker, w.actual_mean
    from (select distinct event_ticker from trading_quotes) e
    join weeks w on w.week_start = {_EVENT_MONDAY.format("e.event_ticker")}
)
select q.run_id, coalesce(r.as_of, r.started_at) as moment, q.event_ticker, q.strike, q.fair_yes,
       q.yes_bid, q.yes_ask,
       coalesce(nullif(nullif(m.result, ''), 'scalar'), s.result,
                case when e.actual_mean > q.strike then 'yes' when e.actual_mean is not null
                     then 'no' end) as result
from trading_quotes q
join trading_runs r on r.run_id = q.run_id
left join quote_markets m on m.ticker = q.ticker
left join settled s on s.ticker = q.ticker
left join events e on e.event_ticker = q.event_ticker
"""
# Every strike of the scored quote history (quote_scores, written by replay.scores): the model's
# point-in-time P(YES), the bid and ask of the candle the moment came from (quote_scores keeps only the
# ladder's monotone implied probability, which cannot say whether the strike's own book was two-sided), and
# how the market settled: its result, else the week's settlement mean (strict >).
HISTORY_ROWS = rf"""
with {WEEK_MEANS}
select s.event_ticker, s.period_minutes, s.model_version, w.scored_at, s.moment, s.strike,
       s.model_yes as fair_yes, c.yes_bid_close as yes_bid, c.yes_ask_close as yes_ask,
       coalesce(nullif(nullif(m.result, ''), 'scalar'),
                case when a.actual_mean > s.strike then 'yes' when a.actual_mean is not null
                     then 'no' end) as result
from quote_scores s
join quote_score_weeks w using (event_ticker, period_minutes, model_version)
left join lateral (
    select q.ticker, q.result from quote_markets q
    where q.event_ticker = s.event_ticker and q.floor_strike = s.strike order by q.ticker limit 1
) m on true
left join quote_candles c
    on c.ticker = m.ticker and c.period_minutes = s.period_minutes and c.end_ts = s.moment
left join weeks a on a.week_start = {_EVENT_MONDAY.format("s.event_ticker")}
"""
_MARKET_BRIER: FingerprintCache[dict[str, Any]] = FingerprintCache()


def _digest(conn: sa.Connection, sql: str) -> str:
    return conn.execute(
        sa.text(f"select md5(coalesce(string_agg(m::text, '|' order by m::text), '')) from ({sql}) m")
    ).scalar_one()


def market_brier(conn: sa.Connection) -> dict[str, Any]:
    """The model's Brier score against the market's, by weekday, over settled strikes whose book was
    two-sided (0 < bid <= ask < 1), from the trading runs' own quotes and the scored quote history.

    - The runs: at each trading run's moment (its ``as_of``, else its start; New York weekday), each
      strike's fair probability and the mid of its bid and ask.
    - The quote history (``quote_scores``, which ``tsabot kalshi history --score`` and the
      ``tsa_market_history`` DAG write): at each day's trading moment of a scored week (the weekday of the
      replay's trading day: the moment's New York time less the 09:30 run time), the model's point-in-time
      probability and the mid of the strike's own candle. Where a run has a moment of the same event on
      the same trading day, the run's counts; among the history's moments of an event and day (candle
      periods, model versions), the latest scored, then the shorter candle (as the market's weight learns).
    - Same strikes, same moments for model and market. The market is the mid of a two-sided book, as in
      ``tsabot replay``'s ``brier_market``: a book with an empty side (no bid, no offer, a 0 or 1 quote)
      or crossed is not scored, only counted (``one_sided``). A strike has settled when its market has a
      result (quote history or a settlement of ours), or else its week's mean is known (strict ``>``).

    Scoring a year's rows takes a good part of a second; the server digests the same rows in a few
    milliseconds, and while that digest is unchanged the scores computed from them are reused.
    """
    key = _digest(conn, MARKET_ROWS) + _digest(conn, HISTORY_ROWS)
    return copy.deepcopy(
        _MARKET_BRIER.get_or_make(
            key, lambda: _market_brier(_rows(conn, MARKET_ROWS), _rows(conn, HISTORY_ROWS))
        )
    )


def two_sided(bid: Any, ask: Any) -> bool:
    """A book both sides of which can be traded (``core.market``'s rule: no bid is 0, no offer is 1) and
    not crossed: 0 < bid <= ask < 1."""
    bid, ask = tradable_bid(bid), tradable_ask(ask)
    return bid is not None and ask is not None and bid <= ask


def _history_kept(runs: list[dict[str, Any]], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history's rows of one moment per event and trading day, and none where a run has that day."""
    by_run = {(r["event_ticker"], r["moment"].astimezone(NEW_YORK).date()) for r in runs}
    best: dict[tuple[str, dt.date], tuple] = {}
    for h in history:
        h["day"] = trading_day(h["moment"])
        group = (h["period_minutes"], h["model_version"], h["moment"])
        rank = (-h["scored_at"].timestamp(), h["period_minutes"], h["model_version"], h["moment"])
        key = (h["event_ticker"], h["day"])
        if key not in by_run and (key not in best or rank < best[key][0]):
            best[key] = (rank, group)
    return [
        h
        for h in history
        if (h["event_ticker"], h["day"]) in best
        and best[(h["event_ticker"], h["day"])][1] == (h["period_minutes"], h["model_version"], h["moment"])
    ]


def _market_brier(runs: list[dict[str, Any]], history: list[dict[str, Any]]) -> dict[str, Any]:
    kept = _history_kept(runs, history)
    rows = [(r, r["moment"].astimezone(NEW_YORK).weekday(), r["run_id"]) for r in runs]
    rows += [(h, h["day"].weekday(), None) for h in kept]
    per_day: list[dict[str, Any]] = [
        {
            "model": [],
            "market": [],
            "outcome": [],
            "runs": set(),
            "moments": set(),
            "history": 0,
            "one_sided": 0,
        }
        for _ in range(7)
    ]
    for r, weekday, run_id in rows:
        if r["result"] not in ("yes", "no") or r["fair_yes"] is None:
            continue
        day = per_day[weekday]
        if not two_sided(r["yes_bid"], r["yes_ask"]):
            day["one_sided"] += 1
            continue
        day["model"].append(float(r["fair_yes"]))
        day["market"].append(float((r["yes_bid"] + r["yes_ask"]) / 2))
        day["outcome"].append(1.0 if r["result"] == "yes" else 0.0)
        if run_id is None:
            day["history"] += 1
            day["moments"].add((r["event_ticker"], r["period_minutes"], r["model_version"], r["moment"]))
        else:
            day["runs"].add(run_id)

    def score(days: list[dict[str, Any]]) -> dict[str, Any]:
        model = [v for d in days for v in d["model"]]
        market = [v for d in days for v in d["market"]]
        outcome = [v for d in days for v in d["outcome"]]
        return {
            "brier_model": round(brier(model, outcome), 6) if outcome else None,
            "brier_market": round(brier(market, outcome), 6) if outcome else None,
            "strikes_scored": len(outcome),
            "runs": len(set().union(*(d["runs"] for d in days))),
            "history_strikes": sum(d["history"] for d in days),
            "history_moments": len(set().union(*(d["moments"] for d in days))),
            "one_sided": sum(d["one_sided"] for d in days),
        }

    by_day = [{"day": DAYS[i], **score([per_day[i]])} for i in range(7)]
    return plain({"by_day": by_day, "overall": score(per_day)})


def replay_equity(path: Path) -> dict[str, Any] | None:
    """The latest saved replay (``tsabot replay`` keeps one): its run, summary (and the summaries of the
    runs beside it: the YoY baseline, doing nothing), without the days, and equity curves; else None.

    A missing or unreadable file is no replay yet, not an error of the page. A replay saved before the
    summaries had their evidence fields (``pnl_ci90`` and the others) is shown without them.
    """
    try:
        doc = json.loads(Path(path).read_text())
        return {
            "saved_at": doc.get("saved_at"),
            "run": doc["run"],
            # The weeks the interval resamples (a document without its week list: the range's Mondays).
            "weeks_replayed": len(doc["weeks"]) if "weeks" in doc else doc["run"].get("weeks"),
            "summary": _without_days(doc["summary"]),
            "beside": {name: _without_days(s) for name, s in doc.get("beside", {}).items()},
            "equity": doc["equity"],
            "beside_equity": doc.get("beside_equity", {}),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


EXECUTIONS = ("taker", "maker")


def _replay_doc(path: Path) -> dict[str, Any] | None:
    """A saved replay document, or None (missing, unreadable, or not a replay: no page error)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("summary"), dict):
        return None
    return doc if isinstance(doc.get("run"), dict) else None


def _weeks_pnl(weeks: Any) -> list[dict[str, Any]]:
    """A replay's weeks as (``event_ticker``, ``pnl``), leaving out what is not one (a week not settled)."""
    if not isinstance(weeks, list):
        return []
    return [
        {"event_ticker": w["event_ticker"], "pnl": w["pnl"]}
        for w in weeks
        if isinstance(w, dict)
        and isinstance(w.get("event_ticker"), str)
        and isinstance(w.get("pnl"), int | float)
        and not isinstance(w.get("pnl"), bool)
    ]


def replay_executions(path: Path) -> dict[str, dict[str, Any]]:
    """The latest saved replay of each execution, by execution: when it was saved, its policy and range,
    its summary (without the weekdays) and its weeks' P&L (``event_ticker``, ``pnl``).

    The latest of an execution is ``latest-<execution>.json`` beside ``path``, or ``path`` itself (the
    latest replay of any execution) where that is newer or the only one: a replay kept before replays were
    kept by execution, or before the summary said its execution (then a taker, the only execution there
    was). A missing execution is left out.
    """
    latest = _replay_doc(path)
    latest_execution = None if latest is None else latest["summary"].get("execution", "taker")
    out = {}
    for execution in EXECUTIONS:
        found = _replay_doc(Path(path).with_name(f"latest-{execution}.json"))
        if (
            latest is not None
            and latest_execution == execution
            and (found is None or _saved(latest) > _saved(found))
        ):
            found = latest
        if found is not None:
            out[execution] = {
                "saved_at": found.get("saved_at"),
                "run": found["run"],
                "summary": _without_days(found["summary"]),
                "weeks": _weeks_pnl(found.get("weeks")),
            }
    return out


def _saved(doc: Mapping[str, Any]) -> str:
    """When a replay was saved, as its ISO text (UTC, to the second: text order is time order)."""
    return str(doc.get("saved_at") or "")


def maker_minus_taker(executions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Whether the latest maker replay beat the latest taker replay, week by week: with both replayed alike
    (same policy, same weeks), the maker's P&L minus the taker's, paired by event, and the replay's own 90%
    bootstrap interval of that total (``replay.evidence``); else ``alike`` false and what differs. None
    without both."""
    if not all(e in executions for e in EXECUTIONS):
        return None
    taker, maker = executions["taker"], executions["maker"]
    differ = [
        f"{label} {taker['run'].get(key)} vs {maker['run'].get(key)}"
        for key, label in (("policy", "policy"), ("start", "from"), ("end", "to"))
        if taker["run"].get(key) != maker["run"].get(key)
    ]
    if differ:
        return {"alike": False, "differ": differ}
    ours = [(w["event_ticker"], Decimal(str(w["pnl"]))) for w in maker["weeks"]]
    theirs = {w["event_ticker"]: Decimal(str(w["pnl"])) for w in taker["weeks"]}
    if not ours and not theirs:  # a document without its weeks: the totals only
        return {"alike": True, "pnl": None, "ci90": None, "weeks": 0}
    diffs = [d for _, d in paired_differences(ours, theirs)]
    return {
        "alike": True,
        "pnl": float(sum(diffs, Decimal(0))),
        "ci90": rounded(bootstrap_total_ci(diffs)),
        "weeks": len(diffs),
    }


def _without_days(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "by_day"}
