"""Model against market on the page: Brier by weekday (hand-computed), equity, and implied beside fair."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tsa_bot.core.config import get_settings
from tsa_bot.core.market import NEW_YORK
from tsa_bot.core.records import DailyCount
from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.store import save_forecast
from tsa_bot.replay.commands import latest_replay_file, save_latest
from tsa_bot.settlement.settle import score_week
from tsa_bot.trading import store
from tsa_bot.ui import queries
from tsa_bot.ui.app import create_app
from tsa_bot.ui.page import render_page
from tsa_bot.warehouse.tsa_daily import load_batch

WEEK = date(2025, 12, 29)
EVENT = "KXTSAW-26JAN04"  # the week of Monday 2025-12-29, settled at a mean of 2.45 M
STRIKES = (2_300_000, 2_400_000, 2_500_000)
# run id -> (moment, [(fair, bid, ask)] per strike). The Friday run starts at 03:00 UTC on Saturday:
# 22:00 on Friday in New York, the trading calendar's day.
RUNS = {
    "cli:tue": (
        datetime(2025, 12, 30, 14, 30, tzinfo=UTC),
        [("0.9", "0.80", "0.90"), ("0.6", "0.40", "0.50"), ("0.2", "0.10", "0.20")],
    ),
    "cli:fri": (
        datetime(2026, 1, 3, 3, 0, tzinfo=UTC),
        [("0.7", "0.95", "0.97"), ("0.5", "0.88", "0.92"), ("0.3", "0.02", "0.06")],
    ),
}
# Outcomes yes, yes, no. Tuesday: model (.01 + .16 + .04) / 3, market at the mids .85 .45 .15:
# (.0225 + .3025 + .0225) / 3. Friday: model (.09 + .25 + .09) / 3, market at .96 .90 .04:
# (.0016 + .01 + .0016) / 3.
NO_HISTORY = {"history_strikes": 0, "history_moments": 0, "one_sided": 0}
TUE = {"brier_model": 0.07, "brier_market": 0.115833, "strikes_scored": 3, "runs": 1} | NO_HISTORY
FRI = {"brier_model": 0.143333, "brier_market": 0.0044, "strikes_scored": 3, "runs": 1} | NO_HISTORY
NONE = {"brier_model": None, "brier_market": None, "strikes_scored": 0, "runs": 0} | NO_HISTORY


def _ticker(event: str, strike: int) -> str:
    return f"{event}-A{strike / 1e6:.2f}"


def _add_run(conn: sa.Connection, run_id: str, event: str, moment: datetime, quotes: list) -> None:
    store.start_run(conn, run_id, "paper", event, "http://127.0.0.1", {})
    conn.execute(
        sa.text("update trading_runs set started_at = :t where run_id = :r"), {"t": moment, "r": run_id}
    )
    conn.execute(
        sa.text(
            "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, yes_bid, yes_ask,"
            " no_bid, no_ask, yes_ask_size, no_ask_size) values (:r, :e, :t, :s, :f, :b, :a, 1 - :a, 1 - :b,"
            " 10, 10)"
        ),
        [
            {
                "r": run_id,
                "e": event,
                "t": _ticker(event, s),
                "s": s,
                "f": f,
                "b": Decimal(b),
                "a": Decimal(a),
            }
            for s, (f, b, a) in zip(STRIKES, quotes, strict=True)
        ],
    )


def _market_result(conn: sa.Connection, strike: int, result: str) -> None:
    """The quote history's result of one market of the week's event (what the exchange settled it on)."""
    conn.execute(
        sa.text("insert into quote_events (event_ticker, series_ticker) values (:e, 'KXTSAW')"), {"e": EVENT}
    )
    conn.execute(
        sa.text(
            "insert into quote_markets (ticker, event_ticker, floor_strike, result, source)"
            " values (:t, :e, :s, :r, 'import')"
        ),
        {"t": _ticker(EVENT, strike), "e": EVENT, "s": strike, "r": result},
    )


@pytest.fixture
def market_warehouse(warehouse_engine: sa.Engine) -> sa.Engine:
    """Two runs of a settled week (Tuesday, Friday in New York), one run of an unsettled one, a decision
    and a paper settlement."""
    samples = tuple(float(x) for x in np.linspace(2_200_000, 2_700_000, 201))
    save_forecast(warehouse_engine, WeekForecast(WEEK, WEEK, 0, "test", samples), run_key="test")
    score_week(warehouse_engine, WEEK, 2_450_000.0)
    with warehouse_engine.begin() as conn:
        for run_id, (moment, quotes) in RUNS.items():
            _add_run(conn, run_id, EVENT, moment, quotes)
        # Next week is not settled: its Tuesday run must not count.
        _add_run(
            conn,
            "cli:next",
            "KXTSAW-26JAN11",
            datetime(2026, 1, 6, 14, 30, tzinfo=UTC),
            [("0.1", "0.80", "0.90")] * 3,
        )
        conn.execute(
            sa.text(
                "insert into trading_decisions (run_id, event_ticker, ticker, strike, fair_yes, action,"
                " count, limit_price, reason)"
                " values ('cli:tue', :e, :t, 2400000, 0.6, 'buy_yes', 5, 0.50, 'edge')"
            ),
            {"e": EVENT, "t": _ticker(EVENT, 2_400_000)},
        )
        store.save_settlement(
            conn,
            {
                "mode": "paper",
                "event_ticker": EVENT,
                "ticker": _ticker(EVENT, 2_400_000),
                "result": "yes",
                "expiration_value": "2450000",
                "net_position": 5,
                "gross_cost": Decimal("2.50"),
                "fees": Decimal("0.10"),
                "payout": 5,
                "pnl": Decimal("2.40"),
                "exchange_revenue": None,
            },
        )
    return warehouse_engine


def test_brier_by_weekday_scores_model_and_market_on_the_same_settled_strikes(market_warehouse):
    with market_warehouse.connect() as conn:
        scored = queries.market_brier(conn)
    by_day = {d.pop("day"): d for d in scored["by_day"]}
    assert list(by_day) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert by_day["Tue"] == TUE
    assert by_day["Fri"] == FRI  # New York's Friday, though the run started on Saturday in UTC
    assert all(by_day[d] == NONE for d in ("Mon", "Wed", "Thu", "Sat", "Sun"))
    assert (
        scored["overall"]
        == {
            "brier_model": round((0.21 + 0.43) / 6, 6),
            "brier_market": round((0.3475 + 0.0132) / 6, 6),
            "strikes_scored": 6,
            "runs": 2,
        }
        | NO_HISTORY
    )


def test_a_one_sided_strike_is_not_scored_and_a_market_result_settles_first(market_warehouse):
    with market_warehouse.begin() as conn:
        conn.execute(
            sa.text("update trading_quotes set yes_bid = null where run_id = 'cli:fri' and strike = 2300000")
        )
        # The market's own result wins over the week's scored mean (here they disagree on purpose).
        _market_result(conn, 2_500_000, "yes")
    with market_warehouse.connect() as conn:
        by_day = {d["day"]: d for d in queries.market_brier(conn)["by_day"]}
    assert by_day["Fri"]["strikes_scored"] == 2 and by_day["Fri"]["one_sided"] == 1
    # Friday, strikes 2.4 M (yes) and 2.5 M (now yes): model ((.5)^2 + (.7)^2) / 2.
    assert by_day["Fri"]["brier_model"] == round((0.25 + 0.49) / 2, 6)
    # Tuesday, 2.5 M now yes: model (.01 + .16 + .64) / 3.
    assert by_day["Tue"]["brier_model"] == round((0.01 + 0.16 + 0.64) / 3, 6)


def test_a_zero_bid_or_a_one_ask_is_an_empty_side_not_a_price(market_warehouse):
    """Kalshi reports no bid as 0 and no offer as 1: such a book is not two-sided, so not scored."""
    with market_warehouse.begin() as conn:
        conn.execute(
            sa.text("update trading_quotes set yes_bid = 0 where run_id = 'cli:tue' and strike = 2500000")
        )
        conn.execute(
            sa.text("update trading_quotes set yes_ask = 1 where run_id = 'cli:tue' and strike = 2300000")
        )
    with market_warehouse.connect() as conn:
        tue = {d.pop("day"): d for d in queries.market_brier(conn)["by_day"]}["Tue"]
    # Only 2.4 M (yes) is left: model (.4)^2, market at the mid .45: (.55)^2.
    assert tue == {
        "brier_model": 0.16,
        "brier_market": 0.3025,
        "strikes_scored": 1,
        "runs": 1,
        "history_strikes": 0,
        "history_moments": 0,
        "one_sided": 2,
    }


# ---- the scored quote history (quote_scores, as replay.scores writes it) ---------------------------------


def _scored_history(
    conn: sa.Connection,
    event: str,
    period: int,
    scored_at: datetime,
    moment: datetime,
    strikes: list[tuple[int, str, str, str]],
    version: str = "test-model",
) -> None:
    """One scored moment of ``event`` as ``tsabot kalshi history --score`` leaves it: the event, its
    markets and the candle of each (strike, model P(YES), YES bid, YES ask) ending at ``moment``, the
    week's row in quote_score_weeks and the moment's rows in quote_scores (the market side there is the
    ladder's implied probability; an empty side counts as its bound, as implied_probabilities does)."""
    conn.execute(
        sa.text(
            "insert into quote_events (event_ticker, series_ticker) values (:e, 'KXTSAW')"
            " on conflict do nothing"
        ),
        {"e": event},
    )
    for strike, _, bid, ask in strikes:
        conn.execute(
            sa.text(
                "insert into quote_markets (ticker, event_ticker, floor_strike, source)"
                " values (:t, :e, :s, 'import') on conflict do nothing"
            ),
            {"t": _ticker(event, strike), "e": event, "s": strike},
        )
        conn.execute(
            sa.text(
                "insert into quote_candles (ticker, period_minutes, end_ts, yes_bid_close, yes_ask_close,"
                " source) values (:t, :p, :m, :b, :a, 'import')"
            ),
            {"t": _ticker(event, strike), "p": period, "m": moment, "b": Decimal(bid), "a": Decimal(ask)},
        )
    conn.execute(
        sa.text(
            "insert into quote_score_weeks (event_ticker, period_minutes, model_version, calibration_weeks,"
            " moments, scored_at) values (:e, :p, :v, 8, 1, :at)"
            " on conflict (event_ticker, period_minutes, model_version) do update"
            " set moments = quote_score_weeks.moments + 1"
        ),
        {"e": event, "p": period, "v": version, "at": scored_at},
    )
    conn.execute(
        sa.text(
            "insert into quote_scores (event_ticker, period_minutes, model_version, moment, strike,"
            " model_yes, market_yes) values (:e, :p, :v, :m, :s, :model, :market)"
        ),
        [
            {
                "e": event,
                "p": period,
                "v": version,
                "m": moment,
                "s": strike,
                "model": float(model),
                "market": min(max(float((Decimal(bid) + Decimal(ask)) / 2), 0.001), 0.999),
            }
            for strike, model, bid, ask in strikes
        ],
    )


NY = NEW_YORK
MON_CLOSE = datetime(2025, 12, 30, 0, 0, tzinfo=NY)  # Monday's daily candle ends at midnight: Monday's
LATER_WEEK = "KXTSAW-26JAN18"  # Monday 2026-01-12, settled by the TSA numbers alone (no forecast score)


@pytest.fixture
def history_warehouse(market_warehouse: sa.Engine) -> sa.Engine:
    """Beside the runs of ``market_warehouse``: scored quote history of the same week (Monday twice, by two
    candle periods; Tuesday, which a run already has; Saturday), a week settled only by TSA's numbers, and a
    week not settled."""
    early, late = datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 1, 21, tzinfo=UTC)
    with market_warehouse.begin() as conn:
        # Monday, daily candles, scored last: 2.3 M and 2.4 M two-sided, 2.5 M without a bid.
        _scored_history(
            conn,
            EVENT,
            1440,
            late,
            MON_CLOSE,
            [
                (2_300_000, "0.8", "0.70", "0.80"),
                (2_400_000, "0.6", "0.50", "0.60"),
                (2_500_000, "0.3", "0", "0.10"),
            ],
        )
        # Monday again, hourly candles, scored earlier: the daily scoring is the one kept for the day.
        _scored_history(
            conn,
            EVENT,
            60,
            early,
            datetime(2025, 12, 29, 10, 0, tzinfo=NY),
            [(2_300_000, "0.1", "0.10", "0.20")],
        )
        # Tuesday: the run cli:tue has that day, so this moment does not count.
        _scored_history(
            conn,
            EVENT,
            1440,
            late,
            datetime(2025, 12, 31, 0, 0, tzinfo=NY),
            [(2_300_000, "0.1", "0.10", "0.20")],
        )
        # Saturday: 2.4 M has no offer (ask 1).
        _scored_history(
            conn,
            EVENT,
            1440,
            late,
            datetime(2026, 1, 4, 0, 0, tzinfo=NY),
            [
                (2_300_000, "0.9", "0.95", "0.99"),
                (2_400_000, "0.7", "0.90", "1"),
                (2_500_000, "0.05", "0.01", "0.03"),
            ],
        )
        # A Wednesday of a later week, settled by its seven first-published TSA numbers (mean 2.0 M).
        _scored_history(
            conn,
            LATER_WEEK,
            1440,
            late,
            datetime(2026, 1, 15, 0, 0, tzinfo=NY),
            [(1_900_000, "0.9", "0.60", "0.70")],
        )
        # The week between is not settled: nothing of it is scored.
        _scored_history(
            conn,
            "KXTSAW-26JAN11",
            1440,
            late,
            datetime(2026, 1, 7, 0, 0, tzinfo=NY),
            [(2_300_000, "0.5", "0.40", "0.50")],
        )
    days = [DailyCount(date(2026, 1, 12) + timedelta(days=i), 2_000_000) for i in range(7)]
    load_batch(market_warehouse, days, seen_at=datetime(2026, 1, 20, tzinfo=UTC), run_key="t", pages=["x"])
    return market_warehouse


# Monday (settled at 2.45 M: 2.3 M yes, 2.4 M yes): model (.04 + .16) / 2, market at the mids .75 and .55:
# (.0625 + .2025) / 2; 2.5 M left out (no bid). Saturday: 2.3 M yes, 2.5 M no: model (.01 + .0025) / 2,
# market at .97 and .02: (.0009 + .0004) / 2; 2.4 M left out (no offer). Wednesday (2.0 M > 1.9 M: yes):
# model .01, market (.35)^2.
HISTORY_MON = {"brier_model": 0.1, "brier_market": 0.1325, "strikes_scored": 2, "runs": 0}
HISTORY_MON |= {"history_strikes": 2, "history_moments": 1, "one_sided": 1}
HISTORY_SAT = HISTORY_MON | {"brier_model": 0.00625, "brier_market": 0.00065}
HISTORY_WED = {"brier_model": 0.01, "brier_market": 0.1225, "strikes_scored": 1, "runs": 0}
HISTORY_WED |= {"history_strikes": 1, "history_moments": 1, "one_sided": 0}


def test_the_scored_quote_history_is_scored_by_day_beside_the_runs(history_warehouse):
    with history_warehouse.connect() as conn:
        scored = queries.market_brier(conn)
    by_day = {d.pop("day"): d for d in scored["by_day"]}
    assert by_day["Mon"] == HISTORY_MON
    assert by_day["Sat"] == HISTORY_SAT
    assert by_day["Wed"] == HISTORY_WED
    assert by_day["Tue"] == TUE and by_day["Fri"] == FRI  # the runs' days, unchanged
    assert by_day["Thu"] == by_day["Sun"] == NONE
    overall = scored["overall"]
    assert (overall["strikes_scored"], overall["runs"], overall["history_strikes"]) == (11, 2, 5)
    assert (overall["history_moments"], overall["one_sided"]) == (3, 2)
    # The runs' six strikes sum to .21 + .43 (see the first test), the history's five to .2 + .0125 + .01.
    assert overall["brier_model"] == round((0.64 + 0.2 + 0.0125 + 0.01) / 11, 6)
    assert overall["brier_market"] == round((0.3475 + 0.0132 + 0.265 + 0.0013 + 0.1225) / 11, 6)


def test_the_history_alone_fills_the_panel_after_make_up(history_warehouse, tmp_path):
    """What ``make up`` leaves: scored quote history and no trading run that settled. The panel is drawn
    and says how many strikes it scored, and from where."""
    with history_warehouse.begin() as conn:
        conn.execute(sa.text("delete from trading_quotes"))
    client = TestClient(
        create_app(engine_factory=lambda: history_warehouse, replay_file=lambda: tmp_path / "none.json")
    )
    market = client.get("/api/market").json()["brier_by_day"]
    # Without the Tuesday run, the history's Tuesday moment counts: 2.3 M (yes) at .1, market .15.
    tue = {d.pop("day"): d for d in market["by_day"]}["Tue"]
    assert tue == {
        "brier_model": 0.81,
        "brier_market": 0.7225,
        "strikes_scored": 1,
        "runs": 0,
        "history_strikes": 1,
        "history_moments": 1,
        "one_sided": 0,
    }
    assert market["overall"]["strikes_scored"] == 6 and market["overall"]["runs"] == 0
    page = client.get("/").text
    assert _svg(page, "chart-brier-by-day").count("<title>") >= 1
    assert "No settled week with both" not in page
    assert (
        "6 strikes scored, two-sided books only (0 &lt; bid ≤ ask &lt; 1): 0 from 0 trading runs, 6 from the"
        " scored quote history (4 moments); 2 one-sided or empty books left out." in page
    )
    assert "over 6 strikes" in page


def test_the_market_endpoint_and_page_show_brier_equity_and_implied_beside_fair(
    market_warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv("TSABOT_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        client = TestClient(create_app(engine_factory=lambda: market_warehouse))
        assert client.get("/api/market").json()["equity"]["replay"] is None
        doc = {
            "run": {"start": "2025-01-06", "end": "2025-12-29", "weeks": 52, "policy": "kelly"},
            "summary": {"pnl": 12.5, "trades": 3, "by_day": {"Mon": {}}},
            "equity": [
                {"at": "2025-01-13T14:00:00+00:00", "pnl": -2.0},
                {"at": "2025-01-20T14:00:00+00:00", "pnl": 12.5},
            ],
            "beside_equity": {"nothing": [{"at": "2025-01-13T14:00:00+00:00", "pnl": 0.0}]},
        }
        save_latest(doc)
        assert latest_replay_file() == tmp_path / "replay" / "latest.json"
        market = client.get("/api/market").json()
        replay = market["equity"]["replay"]
        assert replay["equity"] == doc["equity"] and replay["beside_equity"] == doc["beside_equity"]
        assert replay["summary"] == {"pnl": 12.5, "trades": 3} and replay["run"]["policy"] == "kelly"
        assert replay["saved_at"] is not None
        assert market["equity"]["settled"]["paper"] == [
            {
                "event_ticker": EVENT,
                "event_date": "2026-01-04",
                "settled_at": market["equity"]["settled"]["paper"][0]["settled_at"],
                "pnl": 2.4,
                "cumulative": 2.4,
            }
        ]
        by_day = {d["day"]: d for d in market["brier_by_day"]["by_day"]}
        assert by_day["Tue"]["brier_model"] == TUE["brier_model"]

        runs = {r["run_id"]: r for r in client.get("/api/orders").json()["runs"]}
        (decision,) = runs["cli:tue"]["decisions"]
        assert decision["fair_yes"] == 0.6 and decision["market_yes"] == pytest.approx(0.45)

        page = client.get("/").text
        assert 'id="chart-brier-by-day"' in page and 'id="chart-equity"' in page
        assert "replay (kelly)" in page and "paper" in page
        # One line per source in the equity chart, a marker per point; the settled total in its caption.
        assert _markers(page, "equity-replay-kelly") == 2 and _markers(page, "equity-replay-nothing") == 1
        assert _markers(page, "equity-paper") == 1 and 'settled paper <span class="pos">+2.40</span>' in page
        assert "model 0.1067, market 0.0601 over 6 strikes" in page
        assert '<td class="">0.600</td><td class="">0.450</td>' in page  # the decision: fair beside market
        assert "<script" not in page
        # A replay saved before the evidence fields: shown, its missing figures as "–", and it says why.
        assert 'P&amp;L <span class="pos">+12.50</span> (90% CI –), –/contract, weeks won/traded –' in page
        evidence = _evidence(page)
        assert '<td class="l">kelly (model)</td><td class=""><span class="pos">+12.50</span></td>' in evidence
        assert evidence.count('<td class="">–</td>') == 4
        assert "saved before intervals were computed" in evidence
        assert "equity-replay-ci" not in _svg(page, "chart-equity")
    finally:
        get_settings.cache_clear()


def _evidence(page: str) -> str:
    found = re.search(r'<div id="replay-evidence">.*?</div>', page, re.S)
    assert found, "no replay evidence in the page"
    return found.group(0)


def _summary(
    pnl: float, ci: list | None, cents: float | None, won: int, traded: int, vs: list | None
) -> dict:
    return {
        "pnl": pnl,
        "trades": 12,
        "contracts": 400.0,
        "pnl_ci90": ci,
        "cents_per_contract": cents,
        "weeks_won": won,
        "weeks_traded": traded,
        "vs_baseline_ci90": vs,
        "by_day": {"Mon": {}},
    }


def test_the_page_shows_the_replays_interval_cents_per_contract_and_weeks_won(tmp_path):
    doc = {
        "run": {"start": "2025-01-06", "end": "2025-03-10", "weeks": 10, "policy": "ladder"},
        "summary": _summary(70.4, [-219.5, 431.25], 1.76, 6, 10, [-610.0, -12.5]),
        "beside": {
            "yoy_baseline": _summary(281.0, [20.0, 540.0], 6.1, 7, 10, None),
            "nothing": _summary(0.0, [0.0, 0.0], None, 0, 0, [-540.0, -20.0]),
        },
        "equity": [
            {"at": "2025-01-13T14:00:00+00:00", "pnl": -30.0},
            {"at": "2025-03-17T14:00:00+00:00", "pnl": 70.4},
        ],
        "beside_equity": {"yoy_baseline": [{"at": "2025-03-17T14:00:00+00:00", "pnl": 281.0}]},
    }
    saved = tmp_path / "latest.json"
    saved.write_text(json.dumps(doc))
    replay = queries.replay_equity(saved)
    assert replay["summary"] == {k: v for k, v in doc["summary"].items() if k != "by_day"}
    assert replay["beside"]["nothing"]["vs_baseline_ci90"] == [-540.0, -20.0]
    page = render_page(
        {
            "this_week": {"forecast": None, "known": [], "run": None, "strikes": []},
            "orders": {"runs": []},
            "history": {"weeks": [], "calibration": [], "brier": [], "revisions": [], "revision_count": 0},
            "health": {
                "last_ingest": None,
                "newest_tsa_date": None,
                "tsa_days": 0,
                "last_trading_run": None,
                "risk_limits": [],
            },
            "market": {
                "brier_by_day": {
                    "by_day": [{"day": d, **NONE} for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")],
                    "overall": NONE,
                },
                "equity": {"replay": replay, "settled": {}},
            },
        },
        "",
    )
    # In the caption, the replay's P&L with its interval, cents per contract and weeks won of traded.
    assert (
        'P&amp;L <span class="pos">+70.40</span> (90% CI <span class="neg">-219.50</span> …'
        ' <span class="pos">+431.25</span>), +1.76¢/contract, weeks won/traded 6/10' in page
    )
    evidence = _evidence(page)
    rows = re.findall(r"<tr>(<td.*?)</tr>", evidence)
    assert len(rows) == 3
    assert rows[0] == (
        '<td class="l">ladder (model)</td><td class=""><span class="pos">+70.40</span></td>'
        '<td class=""><span class="neg">-219.50</span> … <span class="pos">+431.25</span></td>'
        '<td class="">+1.76¢</td><td class="">6/10</td>'
        '<td class=""><span class="neg">-610.00</span> … <span class="neg">-12.50</span></td>'
    )
    assert '<td class="l">yoy_baseline</td>' in rows[1] and rows[1].endswith('<td class="">–</td>')
    assert '<td class="">–</td><td class="">0/0</td>' in rows[2]  # nothing: no contracts, no cents
    # In words: the P&L could be luck; the baseline beats the model.
    assert (
        "ladder: 90% interval of the P&amp;L -219.50 to +431.25 includes 0: no evidence of an edge"
        in evidence
    )
    assert (
        "minus the YoY baseline&#x27;s -610.00 to -12.50 lies below 0: evidence the YoY baseline beats it"
        in (evidence)
    )
    # The equity chart draws the interval at the replay's last point, and names it.
    chart = _svg(page, "chart-equity")
    assert '<g id="equity-replay-ci">' in chart and "replay 90% CI -219.50 … +431.25" in chart


def _svg(page: str, chart_id: str) -> str:
    found = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', page, re.S)
    assert found, f"no {chart_id} in the page"
    return found.group(0)


def _markers(page: str, line_id: str) -> int:
    """The points drawn on one line of the equity chart (matplotlib: one ``<use>`` per marker)."""
    found = re.search(rf'<g id="{line_id}">(.*?)</g>', _svg(page, "chart-equity"), re.S)
    assert found, f"no line {line_id} in the equity chart"
    return found.group(1).count("<use ")


def test_a_change_in_the_data_redraws_its_chart_and_only_its_chart(market_warehouse, tmp_path):
    client = TestClient(
        create_app(engine_factory=lambda: market_warehouse, replay_file=lambda: tmp_path / "no-replay.json")
    )
    first = client.get("/").text
    assert client.get("/").text == first  # nothing changed: the same page, its charts read back
    assert _markers(first, "equity-paper") == 1

    # A second paper event, never quoted here, settles: the equity chart is redrawn with it, the Brier
    # chart (quoted strikes only) is not touched.
    with market_warehouse.begin() as conn:
        store.save_settlement(
            conn,
            {
                "mode": "paper",
                "event_ticker": "KXTSAW-26JAN18",
                "ticker": _ticker("KXTSAW-26JAN18", 2_400_000),
                "result": "no",
                "expiration_value": "2350000",
                "net_position": 5,
                "gross_cost": Decimal("2.50"),
                "fees": Decimal("0.10"),
                "payout": 0,
                "pnl": Decimal("-2.60"),
                "exchange_revenue": None,
            },
        )
    settled = client.get("/").text
    assert _markers(settled, "equity-paper") == 2
    assert 'settled paper <span class="neg">-0.20</span>' in settled
    assert _svg(settled, "chart-brier-by-day") == _svg(first, "chart-brier-by-day")

    # A strike's market result arrives, against the scored mean: the Brier scores and their chart change.
    with market_warehouse.begin() as conn:
        _market_result(conn, 2_500_000, "yes")
    rescored = client.get("/").text
    assert _svg(rescored, "chart-brier-by-day") != _svg(settled, "chart-brier-by-day")
    assert "model 0.1067" not in rescored and "over 6 strikes" in rescored
    assert _svg(rescored, "chart-equity") == _svg(settled, "chart-equity")


def test_an_unreadable_replay_file_is_no_replay(tmp_path):
    (tmp_path / "latest.json").write_text("{not json")
    assert queries.replay_equity(tmp_path / "latest.json") is None
    assert queries.replay_equity(tmp_path / "missing.json") is None
