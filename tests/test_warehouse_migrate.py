from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tsa_bot.warehouse.migrate import MIGRATIONS_DIR, available_migrations, migrate


def migrated_up_to(version: int, database_url: str, tmp_path: Path) -> sa.Engine:
    """An engine on ``database_url`` migrated to ``version`` and no further: a warehouse as an older
    release left it, to test the upgrade from there."""
    before = tmp_path / f"up-to-{version:04d}"
    before.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) <= version:
            (before / path.name).write_text(path.read_text())
    engine = sa.create_engine(database_url)
    migrate(engine, before)
    return engine


def test_migrations_apply_once_and_record_versions(empty_database_url):
    engine = sa.create_engine(empty_database_url)
    first = migrate(engine)
    second = migrate(engine)
    assert first == [m.version for m in available_migrations()]
    assert second == []
    with engine.connect() as conn:
        versions = conn.execute(sa.text("select version from schema_migrations order by 1")).scalars().all()
        tables = set(
            conn.execute(sa.text("select tablename from pg_tables where schemaname = 'public'")).scalars()
        )
    engine.dispose()
    assert versions == first
    assert {"tsa_daily", "tsa_revisions", "ingest_runs", "tsa_raw_pages"} <= tables


def test_0011_adds_the_traded_range_and_close_time_and_drops_scores_made_on_one_sided_books(
    empty_database_url, tmp_path
):
    """Upgrading a warehouse at 0010: the quote history view gains its columns, the candles keep theirs,
    and the quote scores (which counted one-sided books) are gone, to be scored again."""
    engine = migrated_up_to(10, empty_database_url, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into quote_events (event_ticker, series_ticker) values ('KXTSAW-26MAR22', 'KXTSAW')"
            )
        )
        conn.execute(
            sa.text(
                "insert into quote_markets (ticker, event_ticker, floor_strike, close_time, source) values"
                " ('KXTSAW-26MAR22-A2.60', 'KXTSAW-26MAR22', 2600000, '2026-03-23T03:59:00Z', 'kalshi')"
            )
        )
        conn.execute(
            sa.text(
                "insert into quote_candles (ticker, period_minutes, end_ts, yes_bid_close, yes_ask_close,"
                " price_low, price_high, source) values ('KXTSAW-26MAR22-A2.60', 1440,"
                " '2026-03-17T04:00:00Z', 0.97, 1, 0.96, 0.98, 'kalshi')"
            )
        )
        conn.execute(
            sa.text(
                "insert into quote_score_weeks"
                " (event_ticker, period_minutes, model_version, calibration_weeks, moments)"
                " values ('KXTSAW-26MAR22', 1440, 'v', 8, 1)"
            )
        )
        conn.execute(
            sa.text(
                "insert into quote_scores values"
                " ('KXTSAW-26MAR22', 1440, 'v', '2026-03-17T04:00:00Z', 2600000, 0.9, 0.985)"
            )
        )
    later = [m.version for m in available_migrations() if m.version > 10]
    assert migrate(engine) == later  # 0011 first, then what came after it
    with engine.connect() as conn:
        row = conn.execute(sa.text("select * from quote_history")).mappings().one()
        scores = conn.execute(sa.text("select count(*) from quote_scores")).scalar_one()
        weeks = conn.execute(sa.text("select count(*) from quote_score_weeks")).scalar_one()
    engine.dispose()
    prices = (row["yes_bid"], row["yes_ask"], row["price_low"], row["price_high"])
    assert prices == tuple(Decimal(p) for p in ("0.97", "1", "0.96", "0.98"))
    assert row["close_time"].isoformat() == "2026-03-23T03:59:00+00:00"
    assert (scores, weeks) == (0, 0)


def test_0012_marks_every_earlier_order_and_decision_a_taker(empty_database_url, tmp_path):
    """Upgrading a warehouse at 0011 that holds orders: each is a taker (every order was one before maker
    execution), with no expiry and no amended order; a liquidity outside taker|maker is refused."""
    engine = migrated_up_to(11, empty_database_url, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into trading_runs (run_id, mode, event_ticker, api_host)"
                " values ('r1', 'paper', 'KXTSAW-26FEB15', 'h')"
            )
        )
        conn.execute(
            sa.text(
                "insert into trading_orders (run_id, mode, client_order_id, event_ticker, ticker, direction,"
                " book_side, yes_price, count, status) values ('r1', 'paper', 'c1', 'KXTSAW-26FEB15',"
                " 'KXTSAW-26FEB15-A2.30', 'yes', 'bid', 0.42, 3, 'executed')"
            )
        )
    assert 12 in migrate(engine)
    with engine.begin() as conn:
        row = conn.execute(sa.text("select liquidity, expires_at, amends from trading_orders")).one()
        assert tuple(row) == ("taker", None, None)
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("update trading_orders set liquidity = 'both'"))
    engine.dispose()


def test_0013_gives_earlier_forecasts_no_baseline_weight_and_refuses_one_outside_0_1(
    empty_database_url, tmp_path
):
    """Upgrading a warehouse at 0012 that holds a forecast: it was Prophet alone (no baseline share)."""
    engine = migrated_up_to(12, empty_database_url, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into forecasts (run_key, week_start, as_of, known_days, model_version, mean,"
                " quantiles, samples)"
                " values ('r', '2026-02-09', '2026-02-11', 2, 'prophet', 2300000, '{}', '{2300000}')"
            )
        )
    assert 13 in migrate(engine)
    with engine.begin() as conn:
        assert conn.execute(sa.text("select baseline_weight from forecasts")).scalar_one() is None
        conn.execute(sa.text("update forecasts set baseline_weight = 0.3"))
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("update forecasts set baseline_weight = 1.5"))
    engine.dispose()
