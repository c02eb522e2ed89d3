"""Wall time of the mapped backtest DAG (dags/tsa_backtest.py) on the CeleryExecutor: one worker, then two.

    .venv/bin/python benchmarks/backtest_workers.py     # 2025, known days 0, 52 calibration weeks
    .venv/bin/python benchmarks/backtest_workers.py --start 2025-01-01 --end 2025-12-31 --calibration-weeks 8

For each worker count a fresh Airflow runs for real (api-server, scheduler, dag-processor and N
`airflow celery worker`s, each with the stated concurrency) on a new PostgreSQL metadata database and the
Redis broker at 127.0.0.1:6379; one run of tsa_backtest is triggered and timed from the trigger to the
run's end. Both runs must write the same result. Needs the Postgres and Redis servers this machine runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests" / "dags"))
from celery_testkit import celery_airflow, redis_answers  # noqa: E402

DEFAULT_DATA = PROJECT.parent / "shared" / "data" / "tsa_daily_2019_2025.csv"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _admin(statement: str) -> None:
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def timed_run(workers: int, concurrency: int, conf: dict, work: Path) -> tuple[float, list[float], dict]:
    """Seconds from trigger to the end of one tsa_backtest run, each mapped task's seconds, the result."""
    name = f"tsabot_bench_meta_{uuid.uuid4().hex[:12]}"
    _admin(f'create database "{name}"')
    try:
        home = work / f"airflow-{workers}"
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        extra = {"TSABOT_STATE_DIR": str(work / "state")}
        with celery_airflow(home, url, workers=workers, concurrency=concurrency, extra_env=extra) as cluster:
            output = work / f"backtest-{workers}.json"
            began = time.monotonic()
            run = cluster.trigger_and_wait("tsa_backtest", {**conf, "output": str(output)}, timeout_s=7200)
            elapsed = time.monotonic() - began
            if run["state"] != "success":
                raise SystemExit(f"the run failed; logs under {home}\n{cluster.logs()}")
            tis = cluster.task_instances("tsa_backtest", run["dag_run_id"])
        mapped = [ti["duration"] for ti in tis if ti["task_id"] == "forecast_week"]
        return elapsed, mapped, json.loads(output.read_text())
    finally:
        _admin(f'drop database if exists "{name}" with (force)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--start", default="2025-01-01")
    parser.add_argument("--end", default="2025-12-31")
    parser.add_argument("--known-days", type=int, default=0)
    parser.add_argument("--calibration-weeks", type=int, default=DEFAULT_CALIBRATION_WEEKS)
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker (default 1)")
    args = parser.parse_args(argv)
    reason = redis_answers()
    if reason:
        raise SystemExit(f"the CeleryExecutor needs a Redis broker: {reason}")

    conf = {
        "data": args.data,
        "start": args.start,
        "end": args.end,
        "known_days": args.known_days,
        "calibration_weeks": args.calibration_weeks,
    }
    work = Path(tempfile.mkdtemp(prefix="tsabot-bench-celery-"))
    print(
        f"tsa_backtest {args.start}..{args.end}, known days {args.known_days}, calibration weeks "
        f"{args.calibration_weeks}; worker concurrency {args.concurrency}; {os.cpu_count()} CPUs"
    )
    results = {}
    for workers in (1, 2):
        load = os.getloadavg()[0]
        elapsed, mapped, document = timed_run(workers, args.concurrency, conf, work)
        results[workers] = (elapsed, document)
        # Task-seconds per wall-second: how many weeks were being forecast at once, on average.
        print(
            f"{workers} worker(s) x concurrency {args.concurrency}: {elapsed:.0f} s wall for {len(mapped)} "
            f"mapped week tasks ({len(document['weeks'])} weeks scored), {sum(mapped) / len(mapped):.1f} s "
            f"per task, {sum(mapped) / elapsed:.2f} tasks at once; 1-min load average before: {load:.1f}",
            flush=True,
        )
    if results[1][1] != results[2][1]:
        raise SystemExit("the two runs wrote different results")
    print(f"speed-up with two workers: {results[1][0] / results[2][0]:.2f}x; both runs wrote the same result")
    return 0


if __name__ == "__main__":
    sys.exit(main())
