"""Short plain-text reports of what the last run did, for the terminal."""

from __future__ import annotations

import sqlalchemy as sa

from tsa_bot.warehouse.engine import get_engine


def run_report(warehouse_url: str | None = None) -> str:
    engine = get_engine(warehouse_url)
    with engine.connect() as conn:
        run = conn.execute(sa.text("select * from ingest_runs order by id desc limit 1")).first()
        days, newest, revisions = conn.execute(
            sa.text("select count(*), max(day), (select count(*) from tsa_revisions) from tsa_daily")
        ).one()
    if run is None:
        return "No ingest has run yet."
    return (
        f"Last ingest: {run.rows_seen:,} rows from {len(run.pages)} pages "
        f"({run.rows_new:,} new, {run.rows_revised:,} revised, {run.rows_unchanged:,} unchanged).\n"
        f"Warehouse: {days:,} days up to {newest}; revisions on record: {revisions}."
    )
