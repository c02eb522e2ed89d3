"""What the ``tsa_replay`` DAG's task calls: ``tsabot replay`` over the warehouse, from the run's params.

The same function as the command (:func:`tsa_bot.replay.commands.replay_range`): the warehouse's quote
history and TSA numbers, the shared forecast cache, the result kept as the page's latest replay. The task
returns a small summary for XCom; the document itself is in ``<state dir>/replay/latest.json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from tsa_bot.core.errors import ValidationError, optional_date_range
from tsa_bot.core.market import SERIES, event_sunday
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.pricing.execution import parse_execution
from tsa_bot.replay.commands import latest_replay_file, replay_range
from tsa_bot.trading.config import parse_policy

DEFAULT_WEEKS = 52
PERIODS = (60, 1440)


def default_range() -> tuple[dt.date, dt.date]:
    """The :data:`DEFAULT_WEEKS` weeks ending with the newest settled week of the warehouse's quote history
    (its Mondays: the replay's ``start`` and ``end``)."""
    from tsa_bot.quotes.store import settled_events
    from tsa_bot.warehouse.engine import get_engine

    with get_engine().connect() as conn:
        events = settled_events(conn, SERIES)
    if not events:
        raise ValidationError(
            f"no settled {SERIES} week in the warehouse's quote history: give start and end, or download "
            "it first (the tsa_market_history DAG, tsabot kalshi history)"
        )
    last = max(event_sunday(e) for e in events) - dt.timedelta(days=6)
    return last - dt.timedelta(weeks=DEFAULT_WEEKS - 1), last


def replay(params: Mapping[str, Any]) -> dict[str, Any]:
    """Replay ``start`` .. ``end`` (default: :func:`default_range`) with ``policy`` (default: the trading
    config's) and ``execution`` (the same default) on ``period``-minute candles; a small summary of the
    result."""
    given = optional_date_range(params.get("start"), params.get("end"))  # every param checked first
    policy = parse_policy(params["policy"], "policy") if params.get("policy") else None
    execution = parse_execution(params["execution"], "execution") if params.get("execution") else None
    period = params.get("period") or 60
    if period not in PERIODS:
        raise ValidationError(f"period must be 60 or 1440 (minutes), got {period!r}")
    calibration_weeks = int(params.get("calibration_weeks") or DEFAULT_CALIBRATION_WEEKS)
    start, end = given or default_range()
    doc = replay_range(
        start, end, policy=policy, execution=execution, period=period, calibration_weeks=calibration_weeks
    )
    s = doc["summary"]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "weeks": doc["run"]["weeks"],
        "events": len(doc["weeks"]),
        "policy": doc["run"]["policy"],
        "execution": s["execution"],
        "period": period,
        "pnl": s["pnl"],
        "pnl_ci90": s["pnl_ci90"],
        "vs_baseline_ci90": s["vs_baseline_ci90"],
        "cents_per_contract": s["cents_per_contract"],
        "weeks_won": s["weeks_won"],
        "weeks_traded": s["weeks_traded"],
        "trades": s["trades"],
        "brier_model": s["brier_model"],
        "brier_market": s["brier_market"],
        "beside_pnl": {name: b["pnl"] for name, b in doc["beside"].items()},
        "saved": str(latest_replay_file()),
    }
