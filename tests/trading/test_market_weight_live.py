"""The live decide step learns the market's weight point in time from the warehouse's settled weeks.

Real Postgres; the step runs through ``orchestration.daily`` with real HTTP to the simulator. The history is
written as the trading steps write it (``trading_runs`` with a priced step, ``trading_quotes``) and the
outcomes as ingest writes them (``tsa_daily`` first-published values).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from statistics import NormalDist

import sqlalchemy as sa
from trading_testkit import EVENT, RUN_TIME, decide_with_daily_tasks, decision_rows

from tsa_bot.core.market import NEW_YORK, event_ticker_for_week
from tsa_bot.core.publication import publication_time
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.store import save_forecast
from tsa_bot.pricing.market_implied import DEFAULT_MARKET_WEIGHT, ScoredWeek, results_from_mean
from tsa_bot.trading.market_history import ScoredHistory, market_weight_for, scored_history, week_of_event
from tsa_bot.ui import page, queries

STRIKES = (2_200_000, 2_250_000, 2_300_000, 2_350_000, 2_400_000)
FIRST_MONDAY = date(2025, 11, 24)  # ten weeks, the last (Jan 26 - Feb 1) published on Feb 2
PROBS = {2_200_000: 0.90, 2_250_000: 0.70, 2_300_000: 0.50, 2_350_000: 0.30, 2_400_000: 0.15}
PAPER = {"mode": "paper", "max_order_contracts": 15, "max_contracts_per_market": 100}


def survival(mean: float, sd: float = 30_000) -> dict[int, float]:
    return {k: 1 - NormalDist(mean, sd).cdf(k) for k in STRIKES}


def actual_of(i: int) -> int:
    return 2_215_000 + 40_000 * (i % 5)


def seed_week(
    engine: sa.Engine,
    monday: date,
    actual: int,
    model: dict[int, float],
    market: dict[int, float],
    *,
    moment: datetime | None = None,
    seen: datetime | None = None,
    run_id: str | None = None,
) -> None:
    """A priced paper run of the week on its Wednesday (or ``moment``), and the week's seven TSA days,
    first seen on TSA's schedule (or at ``seen``)."""
    event = event_ticker_for_week(monday)
    moment = moment or datetime.combine(monday + timedelta(days=2), datetime.min.time(), UTC).replace(hour=14)
    run_id = run_id or f"hist-{event}-{moment:%Y%m%d%H}"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into trading_runs (run_id, mode, event_ticker, api_host, as_of, status, steps)"
                " values (:r, 'paper', :e, '127.0.0.1', :a, 'finished', cast(:s as jsonb))"
            ),
            {"r": run_id, "e": event, "a": moment, "s": '{"fetch": {}, "price": {}, "decide": {}}'},
        )
        for k in STRIKES:
            mid = Decimal(f"{market[k]:.2f}")
            conn.execute(
                sa.text(
                    "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, yes_bid,"
                    " yes_ask, yes_ask_size, no_ask_size) values (:r, :e, :t, :k, :f, :b, :a, 10, 10)"
                ),
                {
                    "r": run_id,
                    "e": event,
                    "t": f"{event}-A{k / 1e6:.2f}",
                    "k": k,
                    "f": Decimal(f"{model[k]:.6f}"),
                    "b": max(mid - Decimal("0.01"), Decimal(0)),
                    "a": min(mid + Decimal("0.01"), Decimal(1)),
                },
            )
        ingest = conn.execute(
            sa.text(
                "insert into ingest_runs (run_key, started_at) values (:k, now())"
                " on conflict (run_key) do update set started_at = excluded.started_at returning id"
            ),
            {"k": "test-history"},
        ).scalar_one()
        for d in range(7):
            day = monday + timedelta(days=d)
            conn.execute(
                sa.text(
                    "insert into tsa_daily (day, first_value, first_seen, first_ingest_run_id, latest_value,"
                    " last_seen, last_ingest_run_id) values (:d, :v, :s, :i, :v, :s, :i)"
                    " on conflict (day) do nothing"
                ),
                {"d": day, "v": actual, "s": seen or publication_time(day), "i": ingest},
            )


def seed_market_wins(engine: sa.Engine, weeks: int = 10, start: date = FIRST_MONDAY) -> None:
    """``weeks`` settled weeks in which the market saw the mean and the model was 80 k off, either way."""
    for i in range(weeks):
        actual = actual_of(i)
        off = 80_000 if i % 2 else -80_000
        seed_week(engine, start + timedelta(weeks=i), actual, survival(actual + off), survival(actual))


def seed_model_wins(engine: sa.Engine, weeks: int, start: date) -> None:
    for i in range(weeks):
        actual = actual_of(i)
        off = 80_000 if i % 2 else -80_000
        seed_week(engine, start + timedelta(weeks=i), actual, survival(actual), survival(actual + off))


def seed_two_counts(engine: sa.Engine) -> None:
    """Ten settled weeks: on Wednesdays (2 known days, as at RUN_TIME) the market was right, on Fridays
    (4 known days) the model was."""
    seed_market_wins(engine)
    for i in range(10):
        monday, actual = FIRST_MONDAY + timedelta(weeks=i), actual_of(i)
        off = 80_000 if i % 2 else -80_000
        friday = datetime.combine(monday + timedelta(days=4), datetime.min.time(), UTC).replace(hour=15)
        seed_week(engine, monday, actual, survival(actual), survival(actual + off), moment=friday)


def decide_via_daily(engine: sa.Engine, key: str, params: dict, probs: dict[int, float] = PROBS) -> dict:
    return decide_with_daily_tasks(engine, key, params, probs)


def test_event_ticker_gives_its_monday():
    assert week_of_event(EVENT) == date(2026, 2, 9)
    assert week_of_event("KXTSAW-26XYZ15") is None
    assert week_of_event("nonsense") is None


def test_no_settled_history_uses_the_default_and_says_so(worker_env, warehouse_engine):
    result = decide_via_daily(warehouse_engine, "wl-default", {**PAPER, "policy": "blend"})
    assert result["market_weight_source"] == "default"
    assert Decimal(result["market_weight"]) == Decimal(repr(DEFAULT_MARKET_WEIGHT))
    assert result["market_weight_weeks"] == 0
    rows = decision_rows(warehouse_engine, "wl-default")
    assert rows and all("default market weight 0.5" in r["reason"] for r in rows)


def test_market_clearly_better_moves_the_learned_weight_towards_it(warehouse_engine):
    seed_market_wins(warehouse_engine)
    history = scored_history(warehouse_engine, RUN_TIME).weeks
    assert len(history) == 10 and all(h.settled_at < RUN_TIME for h in history)
    chosen = market_weight_for(warehouse_engine, RUN_TIME, {}, Decimal("0.5"))
    assert chosen.source == "learned" and chosen.weeks == 10
    assert chosen.weight >= Decimal("0.8")
    assert "from 10 settled weeks" in chosen.reason


def test_a_pinned_param_wins_over_the_learned_weight(warehouse_engine):
    seed_market_wins(warehouse_engine)
    chosen = market_weight_for(warehouse_engine, RUN_TIME, {"market_weight": "0.2"}, Decimal("0.2"))
    assert (chosen.weight, chosen.source) == (Decimal("0.2"), "param")


def test_rows_settled_or_recorded_after_as_of_do_not_change_the_weight(warehouse_engine):
    seed_market_wins(warehouse_engine)
    before = market_weight_for(warehouse_engine, RUN_TIME, {}, Decimal("0.5"))
    # Twelve later weeks in which the model was right and the market wrong: all after RUN_TIME.
    seed_model_wins(warehouse_engine, 12, date(2026, 2, 16))
    # The run's own week: priced the day before (known), but it settles after RUN_TIME, and a day of it
    # is already in the table, first seen after RUN_TIME.
    seed_week(
        warehouse_engine,
        date(2026, 2, 9),
        2_395_000,
        survival(2_395_000),
        survival(2_195_000),
        moment=RUN_TIME - timedelta(days=1),
        seen=RUN_TIME + timedelta(days=3),
    )
    # A second run of a settled week, the same day as its first but later: the first run of the day counts.
    monday = FIRST_MONDAY
    seed_week(
        warehouse_engine,
        monday,
        actual_of(0),
        survival(actual_of(0)),
        survival(actual_of(0) + 300_000),
        moment=datetime.combine(monday + timedelta(days=2), datetime.min.time(), UTC).replace(hour=20),
    )
    after = market_weight_for(warehouse_engine, RUN_TIME, {}, Decimal("0.5"))
    assert (after.weight, after.weeks, after.reason) == (before.weight, before.weeks, before.reason)
    # The same rows do move the weight once they are in the past: the truncation is what kept them out.
    later = market_weight_for(warehouse_engine, datetime(2026, 6, 1, tzinfo=UTC), {}, Decimal("0.5"))
    assert later.weeks > before.weeks and later.weight < before.weight


def test_blend_through_daily_records_the_learned_weight(worker_env, warehouse_engine):
    seed_market_wins(warehouse_engine)
    expected = market_weight_for(warehouse_engine, RUN_TIME, {}, Decimal("0.5"))
    result = decide_via_daily(warehouse_engine, "wl-blend", {**PAPER, "policy": "blend"})
    assert result["market_weight_source"] == "learned"
    assert result["market_weight"] == str(expected.weight)
    assert result["market_weight_weeks"] == 10
    with warehouse_engine.connect() as conn:
        steps = conn.execute(sa.text("select steps from trading_runs where run_id = 'wl-blend'")).scalar_one()
    assert steps["decide"]["market_weight_source"] == "learned"
    rows = decision_rows(warehouse_engine, "wl-blend")
    assert rows and all(f"market weight {expected.weight} from 10 settled weeks" in r["reason"] for r in rows)


def test_blend_with_a_pinned_weight_through_daily_says_so(worker_env, warehouse_engine):
    seed_market_wins(warehouse_engine)
    result = decide_via_daily(
        warehouse_engine, "wl-pinned", {**PAPER, "policy": "blend", "market_weight": 0.2}
    )
    assert (result["market_weight"], result["market_weight_source"]) == ("0.2", "param")
    rows = decision_rows(warehouse_engine, "wl-pinned")
    assert all("pinned by the run's params" in r["reason"] for r in rows)


def test_guarded_on_a_shock_week_skips_and_stores_why(worker_env, warehouse_engine):
    """The model puts the mean above 2.40 M; the market's median sits at 2.30 M: far outside the model's
    own error. Nothing is bought, and every decision says why and at which weight."""
    shock = {k: 0.99 for k in STRIKES}
    result = decide_via_daily(warehouse_engine, "wl-guarded", {**PAPER, "policy": "guarded"}, shock)
    assert result["buys"] == 0 and result["market_weight_source"] == "default"
    rows = decision_rows(warehouse_engine, "wl-guarded")
    assert len(rows) == len(STRIKES)
    for r in rows:
        assert r["action"] == "none"
        assert "skipping" in r["reason"] and "outside the model's" in r["reason"]
        assert "default market weight 0.5" in r["reason"]


def _history_moment(
    conn: sa.Connection, event: str, period: int, moment: datetime, scored_at: datetime
) -> None:
    """One scored moment of the quote history, as ``replay.scores`` writes it."""
    conn.execute(
        sa.text(
            "insert into quote_events (event_ticker, series_ticker) values (:e, 'KXTSAW')"
            " on conflict do nothing"
        ),
        {"e": event},
    )
    conn.execute(
        sa.text(
            "insert into quote_score_weeks (event_ticker, period_minutes, model_version, calibration_weeks,"
            " moments, scored_at) values (:e, :p, 'v', 8, 1, :s) on conflict do nothing"
        ),
        {"e": event, "p": period, "s": scored_at},
    )
    for k in STRIKES:
        conn.execute(
            sa.text("insert into quote_scores values (:e, :p, 'v', :m, :k, 0.5, 0.5)"),
            {"e": event, "p": period, "m": moment, "k": k},
        )


def test_a_trading_day_scored_from_daily_and_hourly_candles_counts_once(warehouse_engine):
    """Issue 19 review: the daily candle of a Wednesday ends at midnight New York (Thursday 04:00 or 05:00
    UTC), its hourly moment at 10:00 New York the same Wednesday: one trading day, two UTC dates. Keyed by
    the UTC date, both counted and that day weighed twice in the learned weight."""
    monday = FIRST_MONDAY
    event = event_ticker_for_week(monday)
    wednesday = monday + timedelta(days=2)
    seed_week(warehouse_engine, monday, actual_of(0), survival(actual_of(0)), survival(actual_of(0)))
    hourly = datetime.combine(wednesday, datetime.min.time().replace(hour=10), NEW_YORK)
    daily = datetime.combine(wednesday + timedelta(days=1), datetime.min.time(), NEW_YORK)
    with warehouse_engine.begin() as conn:
        conn.execute(sa.text("delete from trading_quotes"))  # only the history's moments
        _history_moment(conn, event, 60, hourly, scored_at=hourly + timedelta(days=30))
        _history_moment(conn, event, 1440, daily, scored_at=hourly + timedelta(days=30))
    history = scored_history(warehouse_engine, RUN_TIME).weeks
    assert [(h.event_ticker, h.moment) for h in history] == [(event, hourly)]  # the shorter candle is kept


def test_the_run_pools_at_the_weight_learned_at_its_own_known_days_count(worker_env, warehouse_engine):
    seed_two_counts(warehouse_engine)
    friday_weight = market_weight_for(warehouse_engine, RUN_TIME, {}, Decimal("0.5"), known_days=4)
    assert friday_weight.known_days == 4 and friday_weight.weight <= Decimal("0.2"), friday_weight
    either = market_weight_for(warehouse_engine, RUN_TIME, {}, Decimal("0.5"))
    assert friday_weight.weight < either.weight

    result = decide_via_daily(warehouse_engine, "wl-per-k", {**PAPER, "policy": "blend"})
    assert result["market_weight_known_days"] == 2 and result["market_weight_weeks"] == 10
    assert Decimal(result["market_weight"]) >= Decimal("0.8") > either.weight
    rows = decision_rows(warehouse_engine, "wl-per-k")
    assert rows and all("from 10 settled weeks at 2 known days" in r["reason"] for r in rows)


def test_the_page_shows_the_pools_weights_and_record_per_known_days_count(warehouse_engine, monkeypatch):
    monkeypatch.delenv("TSABOT_FORECAST_POOL", raising=False)
    seed_two_counts(warehouse_engine)
    # The latest forecast at 2 known days was pooled with the YoY baseline at 0.3; at 4 there is none yet.
    pooled = WeekForecast(date(2026, 2, 9), date(2026, 2, 11), 2, "prophet-yoy-pool-v1-log", (2.3e6, 2.31e6))
    save_forecast(warehouse_engine, pooled, "page-test", baseline_weight=0.3)
    with warehouse_engine.connect() as conn:
        data = queries.records(conn)
    by_k = {r["known_days"]: r for r in data["by_known_days"]}
    weights = {k: Decimal(r["market_weight"]) for k, r in by_k.items()}
    scopes = {k: (r["market_weight_source"], r["market_weight_scope"]) for k, r in by_k.items()}
    assert data["forecast_pool"] == "off" and data["history_weeks"] == 0
    assert weights[2] >= Decimal("0.8") and weights[4] <= Decimal("0.2")
    assert scopes[2] == scopes[4] == ("learned", "this count")
    for k in (0, 1, 3, 5, 6):  # no moment at these counts: learned from every moment
        assert scopes[k] == ("learned", "every count")
    assert by_k[2]["weeks"] == by_k[4]["weeks"] == 10 and by_k[0]["weeks"] == 0
    html = page.records_table(data)
    row = html[html.index('<td class="">2</td>') :].split("</tr>")[0]
    weight = weights[2]
    assert by_k[2]["baseline_weight"] == 0.3 and by_k[4]["baseline_weight"] is None
    prophet, yoy = (1 - weight) * Decimal("0.7"), (1 - weight) * Decimal("0.3")
    assert f'<td class="l">{prophet:.2f}</td><td class="l">{yoy:.2f}</td>' in row  # Prophet, the YoY baseline
    friday = html[html.index('<td class="">4</td>') :].split("</tr>")[0]
    assert f'<td class="l">{1 - weights[4]:.2f}</td><td class="l">0.00</td>' in friday  # Prophet alone
    assert f"{weight:.2f} (learned, 10 weeks, this count)" in row


def test_the_weeks_from_the_quote_history_are_counted_among_those_the_weight_learned_from():
    # Ten weeks of the runs' own Wednesday moments (2 known days), ten other weeks of the quote history's
    # Friday moments (4): the weight at 2 learned from no history week, at 4 from ten, overall from ten.
    def week(monday: date, moment: datetime) -> ScoredWeek:
        actual = 2_300_000
        settled = publication_time(monday + timedelta(days=6))
        return ScoredWeek(
            event_ticker_for_week(monday),
            moment,
            settled,
            survival(actual),
            survival(actual + 50_000),
            results_from_mean(actual, STRIKES),
        )

    runs = [FIRST_MONDAY + timedelta(weeks=i) for i in range(10)]
    from_history = [FIRST_MONDAY + timedelta(weeks=10 + i) for i in range(10)]
    weeks = [
        week(m, datetime.combine(m + timedelta(days=2), datetime.min.time(), UTC).replace(hour=15))
        for m in runs
    ]
    weeks += [
        week(m, datetime.combine(m + timedelta(days=4), datetime.min.time(), UTC).replace(hour=15))
        for m in from_history
    ]
    history = ScoredHistory(
        datetime(2026, 6, 1, tzinfo=UTC),
        tuple(weeks),
        frozenset(event_ticker_for_week(m) for m in from_history),
    )
    at_two, at_four, every = history.learned_weight(2), history.learned_weight(4), history.learned_weight()
    assert (at_two.known_days, at_two.weeks, at_two.history_weeks) == (2, 10, 0)
    assert (at_four.known_days, at_four.weeks, at_four.history_weeks) == (4, 10, 10)
    assert (every.weeks, every.history_weeks) == (20, 10)
    assert "0 of them from the quote history" in at_two.reason
