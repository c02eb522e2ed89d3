"""One worker process of the overlapping-runs test: the trading tasks of one DAG run, as the DAG calls them.

``python overlapping_run.py RUN_KEY PARAMS_JSON FORECAST_JSON BARRIER_DIR``: fetch and price, wait until
every process of the test has priced, then decide and place. Prints the placement summary as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tsa_bot.orchestration import daily

RUNS = 2


def main() -> None:
    key, params, forecast, barrier = (
        sys.argv[1],
        json.loads(sys.argv[2]),
        json.loads(sys.argv[3]),
        sys.argv[4],
    )
    run = daily.RunInfo(key, datetime(2026, 2, 11, 14, tzinfo=UTC), False, params)
    daily.fetch_market(run, forecast)
    daily.price(run, forecast)
    Path(barrier, key.replace("/", "_")).touch()
    deadline = time.monotonic() + 120
    while len(list(Path(barrier).iterdir())) < RUNS and time.monotonic() < deadline:
        time.sleep(0.01)
    daily.decide(run)
    print(json.dumps(daily.place_orders(run)))


if __name__ == "__main__":
    main()
