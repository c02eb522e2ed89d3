"""The UI against a warehouse filled by a real offline ``dag.test()`` run of ``tsa_daily``.

One run per module (about a minute): the JSON endpoints through FastAPI's TestClient, then the page in a
real ``airflow api-server`` with the project's plugins, loaded by headless Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from key_testkit import write_key_file
from ui_testkit import CHROMIUM, OUTPUT_DIR, PROJECT_DIR, chromium, running_api_server

from tsa_bot.kalshi_sim import EventSeed, running_simulator

pytestmark = pytest.mark.slow

EVENT = "KXTSAW-26JAN04"
KEY_ID = "5b0f1b7e-2c4a-4d1e-8f53-6a1d2e3c4b5a"
SEED = EventSeed(event_ticker=EVENT, strikes=tuple(range(2_100_000, 2_800_001, 50_000)), center=2_350_000)
FAST = {"offline": True, "calibration_weeks": 8}
# A replay as the page's latest: two weeks, its 90% interval across 0.
REPLAY = {
    "run": {"start": "2025-11-03", "end": "2025-12-22", "weeks": 10, "policy": "kelly"},
    "summary": {
        "pnl": 70.4,
        "trades": 12,
        "pnl_ci90": [-219.5, 431.25],
        "cents_per_contract": 1.76,
        "weeks_won": 6,
        "weeks_traded": 10,
        "vs_baseline_ci90": [-610.0, -12.5],
        "by_day": {},
    },
    "equity": [
        {"at": "2025-11-10T14:00:00+00:00", "pnl": -30.0},
        {"at": "2025-12-29T14:00:00+00:00", "pnl": 70.4},
    ],
}
# Eight complete weeks before the run's week, forecast on their Monday mornings and scored.
PAST_WEEKS = [date(2025, 11, 3) + timedelta(weeks=i) for i in range(8)]


def _seed_scored_history(engine: sa.Engine, weeks: list[date]) -> None:
    """Real Monday-morning forecasts of past weeks (Prophet on the loaded numbers), saved and scored."""
    import pandas as pd

    from tsa_bot.forecast.data import to_series
    from tsa_bot.forecast.forecaster import forecast_weeks
    from tsa_bot.forecast.store import save_forecast
    from tsa_bot.settlement.settle import score_week, week_actual
    from tsa_bot.warehouse.tsa_daily import first_published_as_of

    now = datetime.now(UTC)
    known = first_published_as_of(engine, now)
    series = to_series(
        pd.Series([r.passengers for r in known], index=pd.DatetimeIndex([pd.Timestamp(r.day) for r in known]))
    )
    for scored in forecast_weeks(series, weeks, [0], calibration_weeks=8)[0]:
        save_forecast(engine, scored.model, run_key="backtest/ui-history")
    for week in weeks:
        score_week(engine, week, week_actual(engine, week, now))


@pytest.fixture(scope="module")
def filled(scratch_database, airflow_db, tmp_path_factory) -> Iterator[dict]:
    """A fresh warehouse, one green offline DAG run against the simulator, then 8 scored past weeks."""
    from airflow.dag_processing.dagbag import DagBag

    from tsa_bot.core.config import get_settings
    from tsa_bot.warehouse.migrate import migrate

    key_file = tmp_path_factory.mktemp("kalshi") / "kalshi.pem"
    key = write_key_file(key_file)
    with scratch_database("tsabot_ui") as url:  # the database goes away even when the setup fails
        engine = sa.create_engine(url)
        try:
            migrate(engine)
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("TSA_WAREHOUSE_URL", url)
                mp.setenv("TSABOT_HTTP_BACKOFF_S", "0.01")
                get_settings.cache_clear()
                dag = DagBag(dag_folder=str(PROJECT_DIR / "dags")).get_dag("tsa_daily")
                with running_simulator(SEED, read_rate=1_000, write_rate=1_000) as sim:
                    sim.register_key(KEY_ID, key.public_key(), balance=1_000)
                    mp.setenv("KALSHI_API_BASE", sim.base_url)
                    mp.setenv("KALSHI_KEY_ID", KEY_ID)
                    mp.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
                    run = dag.test(logical_date=None, run_conf=FAST)
                assert run.state == "success"
                _seed_scored_history(engine, PAST_WEEKS)
                get_settings.cache_clear()
                yield {"url": url, "engine": engine, "run_id": run.run_id, "past_weeks": PAST_WEEKS}
        finally:
            engine.dispose()
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def client(filled) -> TestClient:
    from tsa_bot.ui.app import create_app

    return TestClient(create_app(engine_factory=lambda: filled["engine"]))


def scalar(engine: sa.Engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def test_this_week_is_the_runs_forecast_with_every_strike_priced(client, filled):
    body = client.get("/api/this-week").json()

    f = body["forecast"]
    assert (f["week_start"], f["as_of"], f["known_days"]) == ("2025-12-29", "2026-01-01", 3)
    assert f["airflow_run_id"] == filled["run_id"]
    assert f["mean"] == pytest.approx(
        scalar(filled["engine"], "select mean from forecasts where week_start = '2025-12-29'")
    )
    q = [f["quantiles"][k] for k in ("0.05", "0.10", "0.25", "0.50", "0.75", "0.90", "0.95")]
    assert q == sorted(q) and q[0] < f["mean"] < q[-1]
    # The three days published by Thursday morning, as first published.
    assert [k["day"] for k in body["known"]] == ["2025-12-29", "2025-12-30", "2025-12-31"]
    assert [k["passengers"] for k in body["known"]] == [
        scalar(filled["engine"], "select first_value from tsa_daily where day = :d", d=date.fromisoformat(d))
        for d in ("2025-12-29", "2025-12-30", "2025-12-31")
    ]
    assert body["run"]["event_ticker"] == EVENT and body["run"]["mode"] == "paper"
    strikes = body["strikes"]
    assert [s["strike"] for s in strikes] == list(SEED.strikes)
    for s in strikes:
        assert 0 <= s["fair_yes"] <= 1 and s["yes_bid"] <= s["yes_ask"]
        assert s["best_edge"] == pytest.approx(max(s["ev_yes"], s["ev_no"]))
        assert s["reason"]
    held = {s["strike"]: s["position"] for s in strikes if s["position"]}
    assert held and sum(held.values()) == scalar(
        filled["engine"], "select sum(position) from trading_positions"
    )
    # Fair probabilities fall as the strike rises.
    fair = [s["fair_yes"] for s in strikes]
    assert fair == sorted(fair, reverse=True)


def test_orders_show_each_decision_order_and_fill_with_its_reason(client, filled):
    runs = client.get("/api/orders").json()["runs"]

    assert len(runs) == 1
    run = runs[0]
    assert run["airflow_run_id"] == filled["run_id"] and run["status"] == "finished"
    assert len(run["decisions"]) == len(SEED.strikes) and all(d["reason"] for d in run["decisions"])
    buys = [d for d in run["decisions"] if d["action"] != "none"]
    assert buys and {o["ticker"] for o in run["orders"]} == {d["ticker"] for d in buys}
    assert all(o["status"] == "executed" for o in run["orders"])
    assert sum(f["count"] for f in run["fills"]) == sum(o["filled_count"] for o in run["orders"])
    assert len(run["fills"]) == scalar(filled["engine"], "select count(*) from trading_fills")
    assert run["rejections"] == []
    # The simulator quotes every strike: each decision has the market's implied P(above) beside the fair
    # one, non-increasing along the ladder as the implied distribution must be.
    implied = [d["market_yes"] for d in sorted(run["decisions"], key=lambda d: d["strike"])]
    assert all(0 < p < 1 for p in implied) and implied == sorted(implied, reverse=True)


def test_history_compares_forecasts_with_actuals_and_calibrates(client, filled):
    body = client.get("/api/history").json()

    weeks = {w["week_start"]: w for w in body["weeks"]}
    assert set(weeks) == {w.isoformat() for w in filled["past_weeks"]} | {"2025-12-29"}
    assert weeks["2025-12-29"]["actual"] is None  # the week is not complete
    first_week = filled["past_weeks"][0]
    actual = scalar(
        filled["engine"],
        "select avg(first_value) from tsa_daily where day between :a and :a + 6",
        a=first_week,
    )
    assert weeks[first_week.isoformat()]["actual"] == pytest.approx(float(actual))
    assert weeks[first_week.isoformat()]["known_days"] == 0
    # 8 scored forecasts over the 35-strike grid land in the calibration bins.
    assert sum(b["n"] for b in body["calibration"]) == 8 * 35
    assert all(0 <= b["observed"] <= 1 for b in body["calibration"])
    assert [b["week_start"] for b in body["brier"]] == [w.isoformat() for w in filled["past_weeks"]]
    assert body["pnl"] == {} and body["revision_count"] == 0


def test_health_reports_ingest_newest_day_run_and_risk_use(client, filled):
    body = client.get("/api/health").json()

    assert body["newest_tsa_date"] == "2025-12-31"
    assert body["tsa_days"] == scalar(filled["engine"], "select count(*) from tsa_daily")
    assert body["last_ingest"]["rows_new"] == body["tsa_days"]
    assert body["last_trading_run"]["status"] == "finished"
    limits = {r["limit"]: r for r in body["risk_limits"]}
    assert limits["max_event_exposure"]["value"] == 200
    exposure = float(scalar(filled["engine"], "select sum(exposure) from trading_positions"))
    assert limits["max_event_exposure"]["used"] == pytest.approx(exposure)
    assert 0 < exposure <= 200


def _chart(dom: str, name: str) -> str:
    found = re.search(rf'<svg[^>]*data-chart="{name}".*?</svg>', dom, re.S)
    assert found, f"no {name} chart in the page"
    return found.group(0)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_page_renders_in_airflow_with_headless_chromium(filled, tmp_path):
    import os

    from tsa_bot.replay.commands import latest_replay_file, save_latest

    OUTPUT_DIR.mkdir(exist_ok=True)

    home = Path(os.environ["AIRFLOW_HOME"])  # the session's Airflow DB, which holds the dag.test run
    save_latest(REPLAY)  # the page's latest replay, in the state folder the api-server inherits
    try:
        with running_api_server(home, filled["url"], tmp_path / "api-server.log") as base:
            plugins = httpx.get(f"{base}/api/v2/plugins", timeout=10).json()["plugins"]
            ours = next(p for p in plugins if p["name"] == "tsa_bot_ui")
            assert ours["external_views"][0]["href"] == "/tsa-bot/"
            assert ours["fastapi_apps"][0]["url_prefix"] == "/tsa-bot"

            dom = chromium(f"{base}/tsa-bot/", tmp_path / "profile", "--dump-dom").stdout
            # The run the page links to exists in Airflow.
            run_href = f"/dags/tsa_daily/runs/{quote(filled['run_id'], safe='')}"
            assert run_href in dom and f"{run_href}/tasks/place_orders" in dom
            assert httpx.get(
                f"{base}/api/v2/dags/tsa_daily/dagRuns/{filled['run_id']}", timeout=10
            ).is_success

            shot = OUTPUT_DIR / "ui.png"
            shot.unlink(missing_ok=True)
            chromium(
                f"{base}/plugin/tsa-bot",
                tmp_path / "profile",
                f"--screenshot={shot}",
                "--virtual-time-budget=15000",
            )
    finally:
        latest_replay_file().unlink(missing_ok=True)
    assert 'id="empty-state"' not in dom
    assert _chart(dom, "strikes").count('class="pt fair"') == len(SEED.strikes)
    assert _chart(dom, "strikes").count('class="pt market"') == len(SEED.strikes)
    fan = _chart(dom, "fan")
    assert fan.count('class="pt forecast"') == 9 and fan.count('class="pt actual"') == 8
    assert _chart(dom, "calibration").count('class="pt"') >= 2
    assert _chart(dom, "brier").count('class="pt"') == 8
    assert "KXTSAW-26JAN04-A2.10" in dom and "buy_yes" in dom and "by the order_cost limit" in dom
    assert shot.exists() and shot.stat().st_size > 20_000
    # No week of the run's event has settled: the Brier panel says so.
    assert "Brier by day of the week, model vs market" in dom and "No settled week with both" in dom
    # The saved replay: its interval in the caption, the table under the chart and the chart itself.
    assert "Equity: replay and paper/demo" in dom and "(90% CI " in dom and "weeks won/traded 6/10" in dom
    assert 'id="replay-evidence"' in dom and "includes 0: no evidence of an edge" in dom
    equity = re.search(r'<svg[^>]*id="chart-equity".*?</svg>', dom, re.S)
    assert equity and 'id="equity-replay-ci"' in equity.group(0)


def test_the_page_requires_an_airflow_login(filled, tmp_path):
    import os

    home = Path(os.environ["AIRFLOW_HOME"])
    with running_api_server(home, filled["url"], tmp_path / "api-server.log", all_admins=False) as base:
        assert httpx.get(f"{base}/tsa-bot/api/health", timeout=10).status_code == 401
        page = httpx.get(f"{base}/tsa-bot/", timeout=10)
        assert page.status_code == 303 and "login" in page.headers["location"]
        assert "next=/tsa-bot/" in page.headers["location"]
