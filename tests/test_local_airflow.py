"""The offline demo's exchange: a year of the crowd's quote history and a live week the crowd prices."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import timedelta

import httpx

from tsa_bot.kalshi_sim.commands import _history, add_simulator_arguments
from tsa_bot.local_airflow import DemoExchange, _offline_week, demo_history, demo_market_arguments


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
        [sys.executable, "-m", "tsa_bot.cli", "simulator", "--port", "0", *demo_market_arguments(week)],
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
