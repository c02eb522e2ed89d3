"""Scoring the warehouse's quote history, and the live market weight learning from it, point in time.

Ten weeks of the simulator's crowd (``history_quote_rows``, daily candles) imported as ``tsabot kalshi
history --import`` does, the TSA numbers loaded into ``tsa_daily``, and ``tsabot kalshi history --score``
(real Prophet fits, eight calibration weeks, the run's shared forecast cache). The learner then reads
the stored scores with no trading run at all.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tsa_bot.core.market import event_ticker_for_week, mondays_between, trading_day
from tsa_bot.core.publication import NEW_YORK, publication_time
from tsa_bot.core.records import DailyCount
from tsa_bot.forecast.cache import default_cache
from tsa_bot.forecast.data import load_csv
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, truth_of
from tsa_bot.local.cli import main
from tsa_bot.pricing.record import edge_record
from tsa_bot.quotes.interchange import write_quotes_file
from tsa_bot.replay import report
from tsa_bot.replay.engine import MODEL, replay
from tsa_bot.replay.forecasts import Forecaster
from tsa_bot.replay.market import event_histories
from tsa_bot.trading.config import TradingConfig
from tsa_bot.trading.market_history import market_weight_for, scored_history
from tsa_bot.ui import queries
from tsa_bot.warehouse.migrate import migrate
from tsa_bot.warehouse.tsa_daily import load_batch

pytestmark = pytest.mark.slow

# Ten weeks, the last Oct 6-12: the tsa_market_history DAG's test scores two of them (their Prophet fits
# shared through the run's forecast cache, see tests/conftest.py).
START, END = dt.date(2025, 8, 4), dt.date(2025, 10, 6)
CALIBRATION = "8"
# Thursday of the tenth week: nine weeks settled (the ninth on Monday 6 October), the tenth has moments
# before now but settles on the 13th.
AS_OF = dt.datetime(2025, 10, 9, 12, 0, tzinfo=NEW_YORK)
LAST = event_ticker_for_week(END)


@pytest.fixture(scope="module")
def series(shared_csv: Path) -> pd.Series:
    return load_csv(shared_csv)


@pytest.fixture(scope="module")
def quotes(series: pd.Series) -> list:
    return history_quote_rows(HistorySeed(START, END, truth=truth_of(series)))


def load_tsa(engine: sa.Engine, series: pd.Series, until: dt.datetime | None = None) -> None:
    """The TSA numbers into ``tsa_daily``, as ingest keeps them; ``until``: only those published by then."""
    days = [
        DailyCount(d.date(), int(v))
        for d, v in series.items()
        if until is None or publication_time(d.date()) <= until
    ]
    load_batch(engine, days, seen_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), run_key="test-tsa", pages=[])


def _history(url: str, *args: str) -> None:
    assert main(["kalshi", "history", "--warehouse-url", url, "--period", "1440", *args]) == 0


def score(url: str, capsys) -> str:
    """``tsabot kalshi history --score`` on the daily candles; what it printed."""
    capsys.readouterr()
    _history(url, "--score", "--calibration-weeks", CALIBRATION)
    return capsys.readouterr().out


def import_and_score(url: str, rows: list, tmp_path: Path, capsys) -> tuple[str, str]:
    csv = tmp_path / "quotes.csv"
    write_quotes_file(rows, csv)
    _history(url, "--import", str(csv))
    capsys.readouterr()
    _history(url, "--score", "--calibration-weeks", CALIBRATION)
    return capsys.readouterr()


def stored(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "select event_ticker, period_minutes, model_version, moment, strike, model_yes,"
                    " market_yes from quote_scores order by 1, 2, 3, 4, 5"
                )
            )
        ]


def test_scoring_stores_every_settled_weeks_moments_once(
    series, quotes, warehouse_url, warehouse_engine, tmp_path, capsys
):
    load_tsa(warehouse_engine, series)
    out, err = import_and_score(warehouse_url, quotes, tmp_path, capsys)
    assert "10 weeks scored" in out, out + err
    rows = stored(warehouse_engine)
    events = {r[0] for r in rows}
    assert events == {event_ticker_for_week(m) for m in mondays_between(START, END)}, out
    moments = {(r[0], r[3]) for r in rows}
    assert len(moments) == 10 * 7  # a daily candle per day: its close is the day's moment
    # Each moment scores the strikes quoted on both sides then (the simulator's deep strikes are one-sided).
    two_sided = [q for q in quotes if q.two_sided and (q.event_ticker, q.end_ts) in moments]
    assert len(rows) == len(two_sided) and {
        (q.event_ticker, q.end_ts, q.floor_strike) for q in two_sided
    } == {(r[0], r[3], r[4]) for r in rows}
    assert all(0 <= r[5] <= 1 and 0.001 <= r[6] <= 0.999 for r in rows)

    # The same probabilities the replay trades on: its model side is the stored one, moment by moment.
    forecaster = Forecaster(series, calibration_weeks=int(CALIBRATION), cache=default_cache())
    weeks = mondays_between(START, END)
    replayed = replay(event_histories(quotes, weeks), weeks, forecaster, TradingConfig(), source=MODEL)
    by_key = {(r[3], r[4]): r[5] for r in rows}
    assert replayed.scores
    for s in replayed.scores:
        assert by_key[(s.moment, s.strike)] == pytest.approx(s.model, abs=1e-12)

    # The page's "model vs market by day" panel reads them back (no trading run here): day by day, the
    # replay's own Brier scores over the same two-sided strikes at the same moments.
    with warehouse_engine.connect() as conn:
        panel = {d.pop("day"): d for d in queries.market_brier(conn)["by_day"]}
    expected = report.summary(replayed)["by_day"]
    assert sum(d["strikes_scored"] for d in expected.values()) == len(replayed.scores) > 0
    for day, figures in expected.items():
        got = panel[day]
        assert got["strikes_scored"] == got["history_strikes"] == figures["strikes_scored"], day
        assert got["runs"] == 0 and got["history_moments"] == (10 if figures["strikes_scored"] else 0)
        assert got["brier_model"] == pytest.approx(figures["brier_model"], abs=2e-6)
        assert got["brier_market"] == pytest.approx(figures["brier_market"], abs=2e-6)

    # Twice: nothing added, nothing changed, and it says so.
    again = score(warehouse_url, capsys)
    assert "0 weeks scored" in again and "10 already scored" in again, again
    assert stored(warehouse_engine) == rows


def test_weeks_not_settled_are_left_for_later(
    series, quotes, warehouse_url, warehouse_engine, tmp_path, capsys
):
    """Scored by a warehouse that knows the TSA numbers only up to AS_OF: the tenth week is not settled,
    so it is not scored; once its numbers are in, the next scoring adds it and only it."""
    load_tsa(warehouse_engine, series, until=AS_OF)
    out, _ = import_and_score(warehouse_url, quotes, tmp_path, capsys)
    assert "9 weeks scored" in out, out
    assert LAST not in {r[0] for r in stored(warehouse_engine)}
    first = stored(warehouse_engine)
    load_tsa(warehouse_engine, series)
    assert "1 weeks scored" in score(warehouse_url, capsys)
    after = stored(warehouse_engine)
    assert {r[0] for r in after} - {r[0] for r in first} == {LAST}
    assert [r for r in after if r[0] != LAST] == first


def test_the_learned_weight_from_history_alone_is_point_in_time(
    series, quotes, warehouse_url, warehouse_engine, scratch_database, tmp_path, capsys
):
    load_tsa(warehouse_engine, series)
    import_and_score(warehouse_url, quotes, tmp_path, capsys)
    assert LAST in {r[0] for r in stored(warehouse_engine)}  # scored, with moments before AS_OF

    chosen = market_weight_for(warehouse_engine, AS_OF, {}, Decimal("0.5"))
    assert chosen.source == "learned" and chosen.weeks == 9, chosen
    assert chosen.history_weeks == 9
    assert "9 of them from the quote history" in chosen.reason
    history = scored_history(warehouse_engine, AS_OF).weeks
    assert LAST not in {h.event_ticker for h in history}  # it settles after AS_OF
    assert all(h.settled_at < AS_OF and h.moment < AS_OF for h in history)
    assert len(history) == 9 * 7

    # The same warehouse cut at AS_OF: TSA numbers published by then, candles ended by then.
    with scratch_database("tsabot_cut") as cut_url:
        cut = sa.create_engine(cut_url)
        try:
            migrate(cut)
            load_tsa(cut, series, until=AS_OF)
            import_and_score(cut_url, [r for r in quotes if r.end_ts <= AS_OF], tmp_path, capsys)
            assert market_weight_for(cut, AS_OF, {}, Decimal("0.5")) == chosen
            # The pool's weight at every known-days count, and the record there, the same from the cut.
            full, truncated = scored_history(warehouse_engine, AS_OF), scored_history(cut, AS_OF)
            for k in range(7):
                weight = full.learned_weight(k)
                # Daily candles: Monday's to Friday's moments know 0-4 days; the weekend's still 4 (Friday's
                # number waits for Monday), so 5 and 6 have no moment and learn from every moment.
                assert weight.source == "learned" and weight.known_days == (k if k <= 4 else None), weight
                assert truncated.learned_weight(k) == weight
                w = float(weight.weight)
                assert edge_record(truncated.weeks, AS_OF, k, w) == edge_record(full.weeks, AS_OF, k, w)
        finally:
            cut.dispose()

    # Later, the tenth week counts too.
    later = market_weight_for(warehouse_engine, dt.datetime(2025, 10, 14, tzinfo=dt.UTC), {}, Decimal("0.5"))
    assert later.weeks == 10


def test_a_runs_own_quotes_win_over_the_history_for_its_event_and_day(
    series, quotes, warehouse_url, warehouse_engine, tmp_path, capsys
):
    load_tsa(warehouse_engine, series)
    import_and_score(warehouse_url, quotes, tmp_path, capsys)
    event = event_ticker_for_week(dt.date(2025, 9, 8))
    before = [h for h in scored_history(warehouse_engine, AS_OF).weeks if h.event_ticker == event]
    assert len(before) == 7
    # A paper run on the Wednesday, 14:00 UTC (10:00 New York): Wednesday's trading day, whose history
    # moment is the simulator's daily candle ending 00:00 UTC Thursday (20:00 New York Wednesday), not
    # Tuesday's ending 00:00 UTC Wednesday, though that one shares the run's UTC date.
    moment = dt.datetime(2025, 9, 10, 14, tzinfo=dt.UTC)
    replaced = [h for h in before if trading_day(h.moment) == trading_day(moment)]
    assert len(replaced) == 1 and replaced[0].moment == dt.datetime(2025, 9, 11, tzinfo=dt.UTC)
    strikes = sorted(replaced[0].model)[:5]
    with warehouse_engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into trading_runs (run_id, mode, event_ticker, api_host, as_of, status, steps)"
                " values ('own', 'paper', :e, '127.0.0.1', :a, 'finished', cast(:s as jsonb))"
            ),
            {"e": event, "a": moment, "s": '{"fetch": {}, "price": {}, "decide": {}}'},
        )
        for i, k in enumerate(strikes):
            conn.execute(
                sa.text(
                    "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, yes_bid,"
                    " yes_ask, yes_ask_size, no_ask_size) values ('own', :e, :t, :k, :f, :b, :a, 10, 10)"
                ),
                {
                    "e": event,
                    "t": f"{event}-T{k}",
                    "k": k,
                    "f": Decimal("0.9") - Decimal("0.1") * i,
                    "b": Decimal("0.80") - Decimal("0.1") * i,
                    "a": Decimal("0.82") - Decimal("0.1") * i,
                },
            )
    after = [h for h in scored_history(warehouse_engine, AS_OF).weeks if h.event_ticker == event]
    assert len(after) == 7
    own = [h for h in after if h.moment == moment]
    assert len(own) == 1 and own[0].model == {
        k: float(Decimal("0.9") - Decimal("0.1") * i) for i, k in enumerate(strikes)
    }
    assert replaced[0] not in after
    assert [h for h in after if h.moment != moment] == [h for h in before if h is not replaced[0]]
