"""A trading run as one step sees it, read from the warehouse once and passed down.

:class:`TradingRun` holds the run's row (mode, event, host, status, the steps done and their results), the
step's configuration and the run's market snapshot (once fetched). The DAG's tasks load it once per step
(:mod:`tsa_bot.orchestration.daily`), decide from it whether the step needs the exchange, and hand it to
the step (:mod:`tsa_bot.trading.steps`); only a step that must see the row as it is under the account's
lock reads it again (:meth:`TradingRun.reloaded`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.core.market import TradingMode
from tsa_bot.pricing.quotes import MarketSnapshot
from tsa_bot.trading import store
from tsa_bot.trading.config import TradingConfig


def utc(moment: datetime | None) -> datetime:
    """``moment`` in UTC (naive taken as UTC); now if None."""
    if moment is None:
        return datetime.now(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TradingRun:
    engine: sa.Engine
    run_id: str
    config: TradingConfig
    row: Mapping[str, Any]  # trading_runs
    snapshot: MarketSnapshot | None  # None until fetch_market recorded one (or for a skipped run)

    @classmethod
    def load(cls, engine: sa.Engine, run_id: str, config: TradingConfig) -> TradingRun:
        """The run and its snapshot in one transaction; refused if fetch did not record it or if the step
        is configured for another mode than the run was started in."""
        with engine.begin() as conn:
            row = store.get_run(conn, run_id)
            if row is None:
                raise ConfigurationError(
                    f"no trading run '{run_id}' in the warehouse: fetch_market must run first"
                )
            snapshot = store.snapshot_of_run(conn, row)
        if row["mode"] != config.mode.value:
            raise ConfigurationError(
                f"trading run '{run_id}' was started in {row['mode']} mode; this step is configured for "
                f"{config.mode.value}"
            )
        return cls(engine, run_id, config, row, snapshot)

    def reloaded(self) -> TradingRun:
        """The run's row as it is now (another attempt may have finished a step meanwhile); the snapshot,
        written once by fetch, is kept."""
        with self.engine.begin() as conn:
            row = store.get_run(conn, self.run_id)
        assert row is not None  # runs are never deleted
        return replace(self, row=row)

    @property
    def mode(self) -> str:
        return self.row["mode"]

    @property
    def event_ticker(self) -> str:
        return self.row["event_ticker"]

    @property
    def steps(self) -> Mapping[str, Any]:
        """The results of the steps done, by step name."""
        return self.row["steps"]

    @property
    def params(self) -> Mapping[str, Any]:
        return self.row["params"] or {}

    @property
    def moment(self) -> datetime:
        """The moment the run acts for: its ``as_of``, else when it started."""
        return utc(self.row["as_of"] or self.row["started_at"])

    @property
    def account(self) -> str:
        """What one exposure lock covers: all events (total exposure spans them) of one account: the paper
        book (one, whatever host its market data came from), or one mode on one exchange host."""
        return "paper" if self.mode == "paper" else f"{self.mode}|{self.row['api_host']}"

    def base(self) -> dict[str, Any]:
        """The keys every step's result starts with."""
        return {"run_id": self.run_id, "mode": self.mode, "event_ticker": self.event_ticker}

    def skipped(self) -> dict[str, Any] | None:
        """A skipped run's answer to every later step; None if the run trades."""
        if self.row["status"] != "skipped":
            return None
        return {**self.base(), "skipped": self.row["skip_reason"]}

    def needs_exchange(self, cached_step: str | None = None) -> bool:
        """Whether the step will talk to the exchange: not on paper, not for a skipped run, and not for a
        ``cached_step`` already done (it returns its recorded result)."""
        if self.config.mode is TradingMode.PAPER or self.skipped() is not None:
            return False
        return cached_step is None or cached_step not in self.steps

    def market_snapshot(self) -> MarketSnapshot:
        if self.snapshot is None:
            raise ConfigurationError(
                f"trading run '{self.run_id}' has no market snapshot: fetch_market did not finish"
            )
        return self.snapshot
