"""The offline demo's exchange: a year of the crowd's quote history and a live week the crowd prices."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest

from tsa_bot.core.config import get_settings
from tsa_bot.kalshi_sim.commands import _history, add_simulator_arguments
from tsa_bot.local.airflow_runner import (
    DemoExchange,
    _offline_week,
    demo_history,
    demo_market_arguments,
    demo_replay_confs,
)
from tsa_bot.local.cli import main
from tsa_bot.replay.commands import save_latest
from tsa_bot.replay.report import DAYS


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulator_arguments(parser)
    return parser.parse_args(argv)


def test_the_demo_simulator_hosts_the_52_weeks_before_the_offline_week_and_the_crowd_prices_it(tmp_path):
    week = _offline_week()
    command = DemoExchange(tmp_path).command(week, tmp_path / "demo-key.pub.pem")
    assert command[1] == "simulator" and "--seed-center" not in command
    args = _parse(command[2:])
    assert args.seed_week == week and args.seed_center is None  # the crowd, not a fixed curve
    assert args.history_data is None  # the crowd's truth: the shipped TSA pages, which the offline run reads
    mondays = list(_history(args).mondays())
    assert len(mondays) == 52 and mondays[0] == week - timedelta(weeks=52)
    assert mondays[-1] == week - timedelta(weeks=1)
    assert demo_history(week) == (mondays[0], mondays[-1])
    assert args.key_id == ["tsabot-local-demo"] and args.public_key == [tmp_path / "demo-key.pub.pem"]


def test_the_demo_market_serves_the_history_settled_beside_the_live_week():
    week = _offline_week()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsa_bot.local.cli", "simulator", "--port", "0", *demo_market_arguments(week)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = proc.stdout.readline().split(" on ")[1].split(" ")[0]
        events = httpx.get(f"{base}/events", params={"limit": 200}, timeout=30).json()["events"]
        tickers = [e["event_ticker"] for e in events]
        assert len(tickers) == 53 and {"KXTSAW-25JAN05", "KXTSAW-25DEC28", "KXTSAW-26JAN04"} <= set(tickers)
        live = httpx.get(f"{base}/markets", params={"event_ticker": "KXTSAW-26JAN04"}, timeout=30).json()
        assert len(live["markets"]) == 21 and {m["status"] for m in live["markets"]} == {"active"}
        last = httpx.get(f"{base}/markets", params={"event_ticker": "KXTSAW-25DEC28"}, timeout=30).json()
        assert {m["status"] for m in last["markets"]} == {"finalized"}
        assert {m["result"] for m in last["markets"]} == {"yes", "no"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_demo_downloads_and_replays_exactly_the_hosted_weeks():
    week = _offline_week()
    history, replay = demo_replay_confs(week)
    first, last = demo_history(week)
    # tsa_market_history takes close dates: the hosted events close on the Sundays of those weeks.
    assert history == {
        "start": first.isoformat(),
        "end": (last + timedelta(days=6)).isoformat(),
        "period": 1440,
    }
    assert replay == {"start": first.isoformat(), "end": last.isoformat(), "period": 1440}


FIGURES = {
    "pnl": 1.5,
    "fees": 0.1,
    "trades": 2,
    "contracts": 10,
    "max_drawdown": 0.5,
    "brier_model": 0.1,
    "brier_market": 0.12,
    "strikes_scored": 5,
}


class FakeAirflow:
    """Records what `tsabot airflow up` triggers; the replay run saves a document as the DAG's task would."""

    url = "http://localhost:8080"

    def __init__(self) -> None:
        self.triggered: list[tuple[str, dict]] = []
        self.service = SimpleNamespace(log_file="standalone.log")

    def start(self) -> None:
        pass

    def password(self) -> str:
        return "pw"

    def trigger_and_wait(self, dag_id: str, conf: dict, timeout_s: float = 900) -> dict:
        self.triggered.append((dag_id, conf))
        if dag_id == "tsa_replay":
            by_day = {day: FIGURES for day in DAYS}
            beside = {"yoy_baseline": FIGURES, "nothing": FIGURES}
            save_latest(
                {"run": {"policy": "kelly"}, "summary": {**FIGURES, "by_day": by_day}, "beside": beside}
            )
        return {"dag_run_id": f"manual__{len(self.triggered)}", "state": "success"}


@pytest.mark.parametrize("online", [False, True])
def test_up_replays_the_hosted_year_offline_only(online, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TSABOT_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    fake = FakeAirflow()
    monkeypatch.setattr("tsa_bot.local.airflow_runner.local_airflow", lambda port, offline: fake)
    monkeypatch.setattr("tsa_bot.local.reports.run_report", lambda key: f"report of {key}")
    try:
        assert main(["airflow", "up", *(["--online"] if online else [])]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    history, replay = demo_replay_confs(_offline_week())
    if online:
        assert fake.triggered == [("tsa_daily", {"offline": False})]
        assert "kelly (model)" not in out
        return
    assert fake.triggered == [
        ("tsa_daily", {"offline": True}),
        ("tsa_market_history", history),
        ("tsa_replay", replay),
    ]
    assert "kelly (model)" in out and "yoy_baseline" in out and "  Sun" in out
    assert "http://localhost:8080/tsa-bot/" in out


def test_the_checkout_is_found_from_the_package(monkeypatch):
    """`make up` reads the DAGs and plugins of this checkout and keeps its state in <checkout>/.state."""
    from tsa_bot.core.config import Settings
    from tsa_bot.local.airflow_runner import PROJECT_DIR

    assert (PROJECT_DIR / "dags" / "tsa_daily.py").is_file() and (PROJECT_DIR / "plugins").is_dir()
    monkeypatch.delenv("TSABOT_STATE_DIR", raising=False)
    assert Settings().state_dir == PROJECT_DIR / ".state"
