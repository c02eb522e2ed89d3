"""A year of past KXTSAW weeks on the simulator: events, markets, settlement and candlesticks over real HTTP,
in the shapes of Kalshi's spec, point in time, with a crowd that is a fair opponent."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import numpy as np
import pytest
from spec_shapes import check

from tsa_bot.kalshi_sim import HistorySeed, WeekCrowd, running_simulator
from tsa_bot.kalshi_sim.history import shipped_truth
from tsa_bot.local.cli import main

YEAR = HistorySeed(date(2025, 1, 6), date(2025, 12, 28))
MAR17 = "KXTSAW-25MAR23"  # the week of Monday 2025-03-17


@pytest.fixture(scope="module")
def year():
    with running_simulator(read_rate=100_000, history=YEAR) as sim:
        yield sim


@pytest.fixture(scope="module")
def http(year):
    with httpx.Client(base_url=year.base_url, timeout=30) as client:
        yield client


def _all(http: httpx.Client, path: str, key: str, **params) -> list[dict]:
    rows, cursor = [], ""
    while True:
        body = http.get(path, params={**params, "cursor": cursor}).raise_for_status().json()
        rows += body[key]
        cursor = body["cursor"]
        if not cursor:
            return rows


def _week_mean(monday: date) -> Decimal:
    truth = shipped_truth()
    return Decimal(sum(truth[monday + timedelta(days=i)] for i in range(7))) / 7


def test_a_year_of_weekly_events_is_listed_and_settled_on_the_truth(http):
    events = _all(http, "/events", "events", series_ticker="KXTSAW", limit=20)
    assert len(events) == 51 and events[0]["event_ticker"] == "KXTSAW-25JAN12"
    assert events[-1]["event_ticker"] == "KXTSAW-25DEC28"
    assert len(_all(http, "/events", "events", status="settled")) == 51
    assert _all(http, "/events", "events", status="open") == []
    markets = _all(http, "/markets", "markets", series_ticker="KXTSAW", limit=200)
    archived = _all(http, "/historical/markets", "markets", series_ticker="KXTSAW", limit=1000)
    assert len(markets) + len(archived) == 51 * 21 and markets and archived
    for market in markets + archived:
        monday = datetime.fromisoformat(market["open_time"]).astimezone(UTC).date()
        mean = _week_mean(monday)
        assert market["status"] == "finalized"
        assert market["result"] == ("yes" if mean > market["floor_strike"] else "no")  # strictly above
        assert Decimal(market["expiration_value"]) == mean.quantize(Decimal("0.01"))
    # Each ladder is centred on where the crowd stood at the open, so both results occur in every week.
    by_event: dict[str, set[str]] = {}
    for market in markets + archived:
        by_event.setdefault(market["event_ticker"], set()).add(market["result"])
    assert all(results == {"yes", "no"} for results in by_event.values())


def test_answers_have_the_shapes_of_the_spec(http, year):
    cutoff = http.get("/historical/cutoff").json()
    check("GetHistoricalCutoffResponse", cutoff)
    check("GetEventsResponse", http.get("/events", params={"limit": 3, "with_nested_markets": "true"}).json())
    live = http.get("/markets", params={"limit": 5}).json()
    check("GetMarketsResponse", live)
    check("GetMarketsResponse", http.get("/historical/markets", params={"limit": 5}).json())
    ticker = live["markets"][0]["ticker"]
    check("GetMarketResponse", http.get(f"/markets/{ticker}").json())
    event = http.get(f"/events/{live['markets'][0]['event_ticker']}", params={"with_nested_markets": "true"})
    check("GetEventResponse", event.json())
    params = {"start_ts": 0, "end_ts": 2_000_000_000, "period_interval": 60}
    candles = http.get(f"/series/KXTSAW/markets/{ticker}/candlesticks", params=params).json()
    check("GetMarketCandlesticksResponse", candles)
    assert candles["ticker"] == ticker and len(candles["candlesticks"]) >= 168
    old = http.get("/historical/markets", params={"limit": 1}).json()["markets"][0]["ticker"]
    check(
        "GetMarketCandlesticksHistoricalResponse",
        http.get(f"/historical/markets/{old}/candlesticks", params=params).json(),
    )
    check("GetMarketResponse", http.get(f"/historical/markets/{old}").json())
    # The simulator's own event of today still answers as before, next to the history.
    with running_simulator() as plain:
        check("GetEventResponse", httpx.get(f"{plain.base_url}/events/KXTSAW-26FEB15").json())
        check("GetMarketsResponse", httpx.get(f"{plain.base_url}/markets").json())


def test_the_cutoff_splits_live_from_historical(http):
    cutoff = datetime.fromisoformat(http.get("/historical/cutoff").json()["market_settled_ts"])
    assert cutoff.date() == date(2025, 12, 29) - timedelta(days=90)  # 90 days before the newest settlement
    live = _all(http, "/markets", "markets", limit=1000)
    archived = _all(http, "/historical/markets", "markets", limit=1000)
    assert all(datetime.fromisoformat(m["settlement_ts"]) >= cutoff for m in live)
    assert all(datetime.fromisoformat(m["settlement_ts"]) < cutoff for m in archived)
    params = {"start_ts": 0, "end_ts": 2_000_000_000, "period_interval": 1440}
    old, new = archived[0]["ticker"], live[0]["ticker"]
    gone = http.get(f"/series/KXTSAW/markets/{old}/candlesticks", params=params)
    assert gone.status_code == 404 and "historical" in gone.json()["error"]["message"]
    assert http.get(f"/historical/markets/{new}/candlesticks", params=params).status_code == 404
    assert http.get(f"/historical/markets/{new}").status_code == 404
    assert http.get(f"/series/KXTSAW/markets/{new}/candlesticks", params=params).status_code == 200
    # An archived week's event still answers, without its archived markets.
    body = http.get(f"/events/{archived[0]['event_ticker']}", params={"with_nested_markets": "true"}).json()
    assert body["markets"] == [] and body["event"]["markets"] == []
    # The filters: one event, explicit tickers, close-time windows.
    march = _all(http, "/historical/markets", "markets", event_ticker=MAR17)
    assert len(march) == 21
    two = ",".join(m["ticker"] for m in march[:2])
    assert [m["ticker"] for m in _all(http, "/historical/markets", "markets", tickers=two)] == two.split(",")
    december = datetime(2025, 12, 2, tzinfo=UTC).timestamp()  # after the NOV30 week closes
    late = _all(http, "/markets", "markets", min_close_ts=int(december))
    assert {m["event_ticker"] for m in late} == {
        "KXTSAW-25DEC07",
        "KXTSAW-25DEC14",
        "KXTSAW-25DEC21",
        "KXTSAW-25DEC28",
    }
    early = _all(http, "/markets", "markets", max_close_ts=int(december), status="closed")
    assert early == []  # all settled, none merely closed
    refused = http.get("/markets", params={"min_close_ts": 1, "status": "open"})
    assert refused.status_code == 400 and "status closed" in refused.json()["msg"]
    events = _all(http, "/events", "events", min_close_ts=int(december))
    assert [e["event_ticker"] for e in events] == [
        "KXTSAW-25DEC07",
        "KXTSAW-25DEC14",
        "KXTSAW-25DEC21",
        "KXTSAW-25DEC28",
    ]


def test_candlestick_periods_alignment_and_bad_requests(http):
    ticker = http.get("/markets", params={"limit": 1}).json()["markets"][0]["ticker"]
    market = http.get(f"/markets/{ticker}").json()["market"]
    opened = datetime.fromisoformat(market["open_time"]).timestamp()
    closed = datetime.fromisoformat(market["close_time"]).timestamp()
    path = f"/series/KXTSAW/markets/{ticker}/candlesticks"
    for period, seconds in ((1440, 86400), (60, 3600)):
        rows = http.get(
            path, params={"start_ts": 0, "end_ts": 2_000_000_000, "period_interval": period}
        ).json()
        ends = [c["end_period_ts"] for c in rows["candlesticks"]]
        assert all(e % seconds == 0 for e in ends) and ends == sorted(ends)
        assert ends[0] - seconds <= opened < ends[0] and ends[-1] - seconds < closed <= ends[-1]
        assert len(ends) == len(set(ends)) == (ends[-1] - ends[0]) // seconds + 1
    hour = int(opened) + 3600 * 30
    minutes = http.get(
        path, params={"start_ts": hour - 3600 + 60, "end_ts": hour, "period_interval": 1}
    ).json()
    assert len(minutes["candlesticks"]) == 60
    hourly = http.get(path, params={"start_ts": hour, "end_ts": hour, "period_interval": 60}).json()[
        "candlesticks"
    ]
    volume = sum(Decimal(c["volume_fp"]) for c in minutes["candlesticks"])
    assert volume == Decimal(hourly[0]["volume_fp"])  # the minutes add up to their hour
    assert minutes["candlesticks"][-1]["yes_bid"]["close_dollars"] == hourly[0]["yes_bid"]["close_dollars"]
    for params, says in (
        ({"start_ts": 0, "end_ts": 10, "period_interval": 5}, "period_interval must be one of 1 60 1440"),
        ({"end_ts": 10, "period_interval": 60}, "start_ts"),
        ({"start_ts": 20, "end_ts": 10, "period_interval": 60}, "start_ts must not be after end_ts"),
        ({"start_ts": "x", "end_ts": 10, "period_interval": 60}, "start_ts must be a Unix timestamp"),
        ({"start_ts": 0, "end_ts": 2_000_000_000, "period_interval": 1}, "at most 5000"),
    ):
        bad = http.get(path, params=params)
        assert bad.status_code == 400 and says in bad.json()["msg"]
    assert (
        http.get(
            "/series/KXTSAW/markets/NOPE/candlesticks",
            params={"start_ts": 0, "end_ts": 1, "period_interval": 60},
        ).status_code
        == 404
    )
    assert (
        http.get(
            f"/series/OTHER/markets/{ticker}/candlesticks",
            params={"start_ts": 0, "end_ts": 1, "period_interval": 60},
        ).status_code
        == 404
    )


def test_candles_are_point_in_time():
    """A simulator whose clock stands on Wednesday of a week shows that week open, with candles only up to
    Wednesday, and they are exactly the candles the fully settled year shows for those hours."""
    wednesday = datetime(2025, 3, 19, 15, 30, tzinfo=UTC).timestamp()
    week = HistorySeed(date(2025, 3, 10), date(2025, 3, 17))
    params = {"start_ts": 0, "end_ts": 2_000_000_000, "period_interval": 60}
    with running_simulator(history=week, clock=lambda: wednesday, read_rate=1e6) as then:
        ladder = httpx.get(f"{then.base_url}/events/{MAR17}").json()["markets"]
        ticker = next(
            m["ticker"] for m in ladder if Decimal("0.2") < Decimal(m["yes_bid_dollars"]) < Decimal("0.8")
        )
        market = httpx.get(f"{then.base_url}/markets/{ticker}").json()["market"]
        assert market["status"] == "active" and market["result"] == ""
        book = httpx.get(f"{then.base_url}/markets/{ticker}/orderbook").json()["orderbook_fp"]
        assert book["yes_dollars"] and book["no_dollars"]  # the crowd's book, open for trading
        early = httpx.get(
            f"{then.base_url}/series/KXTSAW/markets/{ticker}/candlesticks", params=params
        ).json()
        assert (
            httpx.get(f"{then.base_url}/events", params={"status": "open"}).json()["events"][0][
                "event_ticker"
            ]
            == MAR17
        )
    with running_simulator(history=week, read_rate=1e6, cutoff=0) as later:
        full = httpx.get(
            f"{later.base_url}/series/KXTSAW/markets/{ticker}/candlesticks", params=params
        ).json()
    early_rows, full_rows = early["candlesticks"], full["candlesticks"]
    assert early_rows and all(c["end_period_ts"] <= wednesday for c in early_rows)
    assert len(full_rows) > len(early_rows) and full_rows[: len(early_rows)] == early_rows
    # Its quote of the bid at the bid stands where the book stands.
    best_bid = max(Decimal(p) for p, _ in book["yes_dollars"])
    assert abs(best_bid - Decimal(early_rows[-1]["yes_bid"]["close_dollars"])) <= Decimal("0.01")


def test_the_crowd_learns_each_day_when_it_is_published():
    truth = shipped_truth()
    crowd = WeekCrowd(date(2025, 3, 17), truth, seed=3)
    known_before = crowd.sd[0]
    # Monday's number is published Tuesday 09:00 New York: the hour from then on is surer.
    tuesday_9 = datetime(2025, 3, 18, 13, 0, tzinfo=UTC).timestamp()
    i = int(np.searchsorted(crowd.hours, tuesday_9))
    assert crowd.sd[i] < crowd.sd[i - 1] and crowd.sd[i] < known_before
    # How a published day moves the crowd's mean (exactly, and through the public forecast's ratio):
    # test_kalshi_sim_crowd.py::test_the_crowd_learns_each_day_through_both_views.
    # The same seed draws the same crowd; another seed another.
    assert np.array_equal(WeekCrowd(date(2025, 3, 17), truth, seed=3).mean, crowd.mean)
    assert not np.array_equal(WeekCrowd(date(2025, 3, 17), truth, seed=4).mean, crowd.mean)


def test_the_crowd_is_a_fair_opponent_not_a_fixed_curve():
    """At each week's open the crowd's mean errs about as a good forecaster does (a percent or two), and its
    probabilities are calibrated enough that its Brier score beats a coin by far."""
    truth = shipped_truth()
    errors, brier = [], []
    for monday in YEAR.mondays():
        crowd = WeekCrowd(monday, truth, seed=0)
        errors.append(abs(crowd.mean[0] / float(crowd.value) - 1))
        for strike in crowd.strikes():
            p = float(crowd.probability(strike)[0])
            brier.append((p - (1.0 if crowd.value > strike else 0.0)) ** 2)
    assert 0.004 < np.mean(errors) < 0.025
    assert np.mean(brier) < 0.08


def test_history_reads_are_rate_limited():
    week = HistorySeed(date(2025, 3, 17), date(2025, 3, 17))
    with running_simulator(history=week, read_rate=5) as sim, httpx.Client(base_url=sim.base_url) as client:
        codes = [client.get("/historical/cutoff").status_code for _ in range(15)]
    assert codes.count(429) >= 5 and codes[0] == 200


def test_the_command_hosts_a_range_of_weeks(tmp_path):
    csv = tmp_path / "tsa.csv"
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(70)]
    truth = shipped_truth()
    csv.write_text("date,passengers\n" + "".join(f"{d},{truth[d]}\n" for d in days))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tsa_bot.local.cli",
            "simulator",
            "--port",
            "0",
            "--history-start",
            "2025-01-06",
            "--history-end",
            "2025-03-02",
            "--history-data",
            str(csv),
            "--history-seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = proc.stdout.readline()
        base = banner.split(" on ")[1].split(" ")[0]
        assert "KXTSAW-25JAN12 ... KXTSAW-25MAR02, 8 events" in banner
        events = httpx.get(f"{base}/events").json()["events"]
        assert [e["event_ticker"] for e in events][-1] == "KXTSAW-25MAR02" and len(events) == 8
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--history-start", "2025-01-06"], "--history-start and --history-end go together"),
        (["--history-start", "2025-03-01", "--history-end", "2025-01-01"], "--history-start is after"),
        (["--history-start", "2025-12-01", "--history-end", "2026-02-01"], "no TSA number for 2026-01-01"),
        (
            [
                "--history-start",
                "2025-01-06",
                "--history-end",
                "2025-02-01",
                "--history-data",
                "/nonexistent.csv",
            ],
            "cannot read /nonexistent.csv",
        ),
        (["--seed-week", "2031-06-02"], "the crowd cannot price the week of 2031-06-02"),
    ],
)
def test_bad_history_arguments_are_one_line(capsys, argv, says):
    assert main(["simulator", "--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_a_seeded_week_is_priced_by_the_crowd_not_a_fixed_curve():
    """Past the data's end (the offline demo's week) the crowd forecasts from the same days a year earlier;
    its ladder sits around that forecast, and the strike nearest it is a real question (not 0.03 or 0.97)."""
    from tsa_bot.kalshi_sim import EventSeed
    from tsa_bot.kalshi_sim.history import week_view

    truth = shipped_truth()
    now = datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()
    seed = EventSeed.from_crowd(date(2025, 12, 29), now)
    assert seed.event_ticker == "KXTSAW-26JAN04" and len(seed.strikes) == 21
    view = week_view(date(2025, 12, 29), truth)
    forecast = sum(view.values()) / 7
    assert [view[date(2025, 12, 29) + timedelta(days=i)] for i in range(3)] == [
        truth[date(2025, 12, 29) + timedelta(days=i)] for i in range(3)
    ]
    assert abs(seed.center - forecast) / forecast < 0.03
    nearest = min(seed.strikes, key=lambda k: abs(k - forecast))
    assert Decimal("0.1") < seed.mids[nearest] < Decimal("0.9")
    assert seed == EventSeed.from_crowd(date(2025, 12, 29), now)  # deterministic
    assert seed.mids != EventSeed.from_crowd(date(2025, 12, 29), now, seed=1).mids
    with running_simulator(seed) as sim:
        book = httpx.get(f"{sim.base_url}/markets/{seed.event_ticker}-A{nearest / 1e6:.2f}/orderbook").json()
        best_bid = max(Decimal(p) for p, _ in book["orderbook_fp"]["yes_dollars"])
        best_no = max(Decimal(p) for p, _ in book["orderbook_fp"]["no_dollars"])
        assert (best_bid, 1 - best_no) == seed.books[nearest]  # the crowd's own quotes at the hour
