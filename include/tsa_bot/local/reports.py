"""A plain-text report of one DAG run for the terminal: forecast, strikes against the market, orders."""

from __future__ import annotations

import sqlalchemy as sa

from tsa_bot.warehouse.engine import get_engine


def _money(value) -> str:
    return "   -  " if value is None else f"{float(value):6.2f}"


def run_report(run_key: str | None = None, warehouse_url: str | None = None) -> str:
    """The run named by ``run_key`` (default: the latest run that forecast)."""
    engine = get_engine(warehouse_url)
    with engine.connect() as conn:
        ingest = conn.execute(sa.text("select * from ingest_runs order by id desc limit 1")).first()
        forecast = conn.execute(
            sa.text(
                "select * from forecasts where (cast(:k as text) is null or run_key = :k)"
                " order by created_at desc limit 1"
            ),
            {"k": run_key},
        ).first()
        lines = []
        if ingest is not None:
            lines.append(
                f"TSA: last ingest {ingest.rows_seen:,} rows from {len(ingest.pages)} pages "
                f"({ingest.rows_new:,} new, {ingest.rows_revised:,} revised); "
                f"newest day {ingest.newest_date}."
            )
        if forecast is None:
            return "\n".join([*lines, "No forecast yet."])
        q = forecast.quantiles
        lines.append(
            f"Forecast for the week of {forecast.week_start} ({forecast.known_days} days known): "
            f"mean {forecast.mean:,.0f}, 80% in {q['0.10']:,.0f} .. {q['0.90']:,.0f}."
        )
        quotes = conn.execute(
            sa.text(
                "select q.*, d.action, d.count, d.limit_price, d.reason from trading_quotes q"
                " left join trading_decisions d on d.run_id = q.run_id and d.ticker = q.ticker"
                " where q.run_id = :k order by q.strike"
            ),
            {"k": forecast.run_key},
        ).all()
        run = conn.execute(
            sa.text("select mode, event_ticker, status, skip_reason from trading_runs where run_id = :k"),
            {"k": forecast.run_key},
        ).first()
        orders = conn.execute(
            sa.text(
                "select ticker, direction, count, yes_price, status, filled_count from trading_orders"
                " where run_id = :k order by ticker"
            ),
            {"k": forecast.run_key},
        ).all()
    if run is None:
        return "\n".join([*lines, "No trading run."])
    if run.status == "skipped":
        return "\n".join([*lines, f"Trading ({run.mode}) skipped: {run.skip_reason}"])
    lines.append(
        f"{run.event_ticker} ({run.mode}):  strike     fair  yes bid  yes ask  EV yes  EV no  decision"
    )
    for row in quotes:
        decision = row.action if row.action and row.action != "none" else "-"
        if decision != "-":
            decision += f" {row.count:g} @ {row.limit_price}"
        lines.append(
            f"  {row.strike:>27,}  {float(row.fair_yes):6.3f}  {_money(row.yes_bid)}  {_money(row.yes_ask)}"
            f"  {_money(row.ev_yes)} {_money(row.ev_no)}  {decision}"
        )
    lines.append(f"Orders: {len(orders)}")
    lines.extend(
        f"  {o.ticker} buy {o.direction} {o.count:g} (yes price {o.yes_price}) {o.status},"
        f" filled {o.filled_count:g}"
        for o in orders
    )
    return "\n".join(lines)
