"""Wall time of one daily DAG run, Airflow's overhead per task, and the time to backfill N days.

Everything runs for real on this machine: dag.test() with Airflow's SQLite metadata DB, a PostgreSQL
warehouse (127.0.0.1:5432 if it answers, else embedded), the offline TSA page set and the Kalshi
simulator over HTTP. The overhead per task is (DAG run wall time - the same steps called directly,
without Airflow) / number of tasks.

Usage: .venv/bin/python benchmarks/daily_run.py [--backfill-days 30] [--calibration-weeks 52]
[--backfill-calibration-weeks 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="tsabot-bench-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"

import pendulum  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS  # noqa: E402


@contextmanager
def scratch_warehouse() -> Iterator[str]:
    """A new database for the run (127.0.0.1:5432 if it answers, else embedded), dropped on the way out."""
    server = None
    try:
        psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=2).close()
        admin = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    except psycopg.Error:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp()), cleanup_mode="stop")
        admin = make_url(server.get_uri()).set(drivername="postgresql+psycopg").render_as_string(False)
    name = f"tsabot_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'create database "{name}"')
        try:
            yield make_url(admin).set(database=name).render_as_string(False)
        finally:
            with admin_engine.connect() as conn:
                conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
    finally:
        admin_engine.dispose()
        if server is not None:
            server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument(
        "--calibration-weeks", type=int, default=DEFAULT_CALIBRATION_WEEKS, help="for the daily run"
    )
    parser.add_argument("--backfill-calibration-weeks", type=int, default=8, help="for the backfill")
    args = parser.parse_args()
    with scratch_warehouse() as url:
        benchmark(args, url)


def benchmark(args: argparse.Namespace, url: str) -> None:
    days_wanted = args.backfill_days
    os.environ["TSA_WAREHOUSE_URL"] = url
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    from tsa_bot.kalshi_sim import EventSeed, running_simulator
    from tsa_bot.orchestration import daily
    from tsa_bot.warehouse.migrate import migrate

    db.initdb()
    migrate(sa.create_engine(url))
    dag = DagBag(dag_folder=str(PROJECT / "dags")).get_dag("tsa_daily")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = Path(tempfile.mkdtemp()) / "kalshi.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    conf = {"offline": True, "calibration_weeks": args.calibration_weeks}
    seed = EventSeed(
        event_ticker="KXTSAW-26JAN04", strikes=tuple(range(2_100_000, 2_800_001, 50_000)), center=2_350_000
    )
    with running_simulator(seed, read_rate=1_000, write_rate=1_000) as sim:
        sim.register_key("bench", key.public_key(), balance=1_000)
        os.environ.update(
            KALSHI_API_BASE=sim.base_url, KALSHI_KEY_ID="bench", KALSHI_PRIVATE_KEY_PATH=str(key_file)
        )

        # First run: loads 2019-2025 and fills the forecast cache (unless a run here already did).
        first = dag.test(logical_date=None, run_conf=conf)
        first_forecast = next(ti.duration for ti in first.get_task_instances() if ti.task_id == "forecast")
        started = time.perf_counter()
        run = dag.test(logical_date=None, run_conf=conf)
        dag_wall = time.perf_counter() - started
        tis = run.get_task_instances()
        assert run.get_state() == "success", {ti.task_id: ti.state for ti in tis}

        info = daily.RunInfo(
            f"bench/direct-{uuid.uuid4().hex[:6]}", pendulum.now("UTC"), False, {**conf, "mode": "paper"}
        )
        direct_steps: dict[str, float] = {}

        def timed(name, call):
            began = time.perf_counter()
            result = call()
            direct_steps[name] = time.perf_counter() - began
            return result

        fetched = timed("ingest", lambda: daily.ingest(info))
        timed("load", lambda: daily.load(info, fetched))
        timed("quality_gate", lambda: daily.quality_gate(info))
        forecast = timed("forecast", lambda: daily.forecast(info))
        timed("fetch_market", lambda: daily.fetch_market(info, forecast))
        timed("price", lambda: daily.price(info, forecast))
        timed("decide", lambda: daily.decide(info))
        timed("place_orders", lambda: daily.place_orders(info))
        timed("reconcile", lambda: daily.reconcile(info))
        timed("settle", lambda: daily.settle(info))
        direct = sum(direct_steps.values())

    print(f"first run's forecast task (cold unless .state/forecast-cache is filled): {first_forecast:.1f} s")
    print(f"one daily run (dag.test, offline, {len(tis)} tasks): {dag_wall:.1f} s wall")
    for ti in sorted(tis, key=lambda t: t.start_date):
        print(f"  {ti.task_id:<14} {ti.duration:6.2f} s")
    print(f"the same steps called directly: {direct:.1f} s (forecast {direct_steps['forecast']:.1f} s)")
    # The forecast's own run-to-run variation (seconds) would swamp the overhead: leave it out of both.
    ti_forecast = next(ti.duration for ti in tis if ti.task_id == "forecast")
    overhead = ((dag_wall - ti_forecast) - (direct - direct_steps["forecast"])) / len(tis)
    print(
        "Airflow overhead per task (DAG wall - steps called directly, forecast excluded, / tasks): "
        f"{overhead:.2f} s"
    )
    if not days_wanted:
        return

    days = [
        pendulum.datetime(2025, 11, 1, 9, 30, tz="America/New_York").add(days=k)
        for k in range(args.backfill_days)
    ]
    started = time.perf_counter()
    for day in days:
        replay = dag.test(logical_date=day, run_conf={"calibration_weeks": args.backfill_calibration_weeks})
        assert replay.get_state() == "success", day
    backfill = time.perf_counter() - started
    print(
        f"backfill of {len(days)} days ({days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d}, replayed with dag.test, "
        f"calibration_weeks={args.backfill_calibration_weeks}): "
        f"{backfill:.0f} s ({backfill / len(days):.1f} s per day)"
    )


if __name__ == "__main__":
    main()
