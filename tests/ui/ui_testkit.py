"""Helpers for the UI tests: a real ``airflow api-server`` in its own process group, headless Chromium, and a
year of history in the warehouse (which ``benchmarks/ui_render.py`` renders too)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from tsa_bot.forecast.distribution import WeekForecast
from tsa_bot.forecast.store import save_forecast
from tsa_bot.settlement.settle import score_week
from tsa_bot.trading import store

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT_DIR = PROJECT_DIR / "test-output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_api_server(
    airflow_home: Path, warehouse_url: str, log_file: Path, *, all_admins: bool = True, timeout_s: float = 120
) -> Iterator[str]:
    """``airflow api-server`` with the project's plugins on a free loopback port; yields its base URL.

    It runs in its own session (process group) and the whole group is stopped on exit.
    """
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(all_admins),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "TSA_WAREHOUSE_URL": warehouse_url,
    }
    airflow = Path(sys.executable).with_name("airflow")
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"api-server exited with {proc.returncode}: {log_file.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api-server not up in {timeout_s}s: {log_file.read_text()[-3000:]}")
            time.sleep(1)
        yield base
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the process's whole group, then SIGKILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def chromium(url: str, profile: Path, *extra: str, timeout_s: float = 90) -> subprocess.CompletedProcess:
    """Headless Chromium on one URL (``--dump-dom`` and/or ``--screenshot=FILE`` in ``extra``)."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
        *extra,
        url,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        stop_group(proc, grace_s=5)  # Chromium's helper processes share its group
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _run_id(day: date) -> str:
    return f"tsa_daily/scheduled__{day}T14:30:00+00:00"


def fill_a_year(engine: sa.Engine, weeks: int = 52) -> None:
    """52 weeks, each forecast every morning (7 forecasts) and scored, a trading run a day with 15 quotes
    and positions, and every week's paper event settled: the real store functions where there are some."""
    rng = np.random.default_rng(7)
    first = date(2025, 1, 6)
    strikes = range(2_100_000, 2_800_001, 50_000)
    for w in range(weeks):
        week = first + timedelta(weeks=w)
        actual = 2_450_000 + 150_000 * np.sin(w / 8) + rng.normal(0, 40_000)
        for k in range(7):
            centre = actual + rng.normal(0, 60_000 / (k + 1))
            samples = tuple(sorted(float(x) for x in rng.normal(centre, 70_000 / (k + 1), 400)))
            f = WeekForecast(week, week + timedelta(days=k), k, "prophet-anchored-v2", samples)
            save_forecast(engine, f, run_key=_run_id(week + timedelta(days=k)))
        score_week(engine, week, float(actual))
        event = f"KXTSAW-{(week + timedelta(days=6)).strftime('%y%b%d').upper()}"
        with engine.begin() as conn:
            for k in range(7):
                run_id = _run_id(week + timedelta(days=k))
                store.start_run(conn, run_id, "paper", event, "http://127.0.0.1", {"max_event_exposure": 200})
                conn.execute(
                    sa.text(
                        "insert into trading_quotes (run_id, event_ticker, ticker, strike, fair_yes, yes_bid,"
                        " yes_ask, no_bid, no_ask, yes_ask_size, no_ask_size, ev_yes, ev_no)"
                        " values (:r, :e, :t, :s, 0.5, 0.45, 0.5, 0.5, 0.55, 10, 10, 0.01, -0.05)"
                    ),
                    [{"r": run_id, "e": event, "t": f"{event}-A{s / 1e6:.2f}", "s": s} for s in strikes],
                )
                store.save_positions(
                    conn,
                    run_id,
                    "paper",
                    event,
                    [{"ticker": f"{event}-A2.40", "position": 10, "exposure": 5, "fees": 0.1}],
                )
                store.finish_run(conn, run_id, {"orders": 1})
            pnl = Decimal(str(round(rng.normal(2, 5), 4)))
            store.save_settlement(
                conn,
                {
                    "mode": "paper",
                    "event_ticker": event,
                    "ticker": f"{event}-A2.40",
                    "result": "yes" if actual > 2_400_000 else "no",
                    "expiration_value": str(round(actual, 2)),
                    "net_position": 10,
                    "gross_cost": 5,
                    "fees": Decimal("0.1"),
                    "payout": 10 if actual > 2_400_000 else 0,
                    "pnl": pnl,
                    "exchange_revenue": None,
                },
            )
