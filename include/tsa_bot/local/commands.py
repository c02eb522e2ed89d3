"""``tsabot airflow up|down``: the local Airflow UI with this project's DAGs."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    airflow = subparsers.add_parser("airflow", help="run the DAGs in a local airflow standalone")
    actions = airflow.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start Airflow, trigger one run of tsa_daily (offline: then download the simulator's year of "
        "quote history and replay it), print the UI and a report",
    )
    up.add_argument("--online", action="store_true", help="scrape tsa.gov instead of the offline page set")
    up.add_argument("--port", type=int, help="UI port (default 8080)")
    up.set_defaults(handler=up_command)
    down = actions.add_parser("down", help="stop the local Airflow and the embedded warehouse")
    down.add_argument("--port", type=int)
    down.set_defaults(handler=down_command)


def up_command(args: argparse.Namespace) -> int:
    from tsa_bot.local.airflow_runner import local_airflow
    from tsa_bot.local.reports import run_report

    airflow = local_airflow(args.port, offline=not args.online)
    print(f"Starting Airflow (logs: {airflow.service.log_file}) ...", flush=True)
    airflow.start()
    run = airflow.trigger_and_wait("tsa_daily", {"offline": not args.online})
    print(f"\nAirflow UI: {airflow.url}  login: admin / {airflow.password()}")
    print(f"Run {run['dag_run_id']}: {run['state']}")
    print(run_report(f"tsa_daily/{run['dag_run_id']}"))
    ok = run["state"] == "success"
    if not args.online:
        ok = _replay_the_hosted_year(airflow) and ok
    print("\nStop everything with: make down")
    return 0 if ok else 1


def _replay_the_hosted_year(airflow) -> bool:
    """Download and score the simulator's year of quote history (tsa_market_history), replay it
    (tsa_replay), and print the replay's summary; whether both runs succeeded."""
    from tsa_bot.local.airflow_runner import _offline_week, demo_replay_confs
    from tsa_bot.replay import report
    from tsa_bot.replay.commands import latest_replay_file

    history, replay = demo_replay_confs(_offline_week())
    print(
        f"\nDownloading and scoring the simulator's quote history, {history['start']} to {history['end']}"
        " (the scores are what blend and guarded learn the market's weight from; minutes) ...",
        flush=True,
    )
    run = airflow.trigger_and_wait("tsa_market_history", history, timeout_s=2400)
    print(f"tsa_market_history {run['dag_run_id']}: {run['state']}")
    if run["state"] != "success":
        return False
    print(
        f"Replaying the weeks of {replay['start']} to {replay['end']}"
        " (the scoring's Prophet fits are reused) ...",
        flush=True,
    )
    run = airflow.trigger_and_wait("tsa_replay", replay, timeout_s=2400)
    print(f"tsa_replay {run['dag_run_id']}: {run['state']}")
    if run["state"] != "success":
        return False
    doc = json.loads(latest_replay_file().read_text())
    print(report.table(doc))
    print(f"Its equity curves: the 'TSA bot' page, {airflow.url}/tsa-bot/ (from {latest_replay_file()})")
    return True


def down_command(args: argparse.Namespace) -> int:
    from tsa_bot.local.airflow_runner import local_airflow
    from tsa_bot.warehouse.engine import stop_embedded

    stopped = local_airflow(args.port).stop()
    print(f"stopped {', '.join(stopped)}" if stopped else "Airflow was not running")
    print("stopped the embedded warehouse" if stop_embedded() else "the embedded warehouse was not running")
    return 0
