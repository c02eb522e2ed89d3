"""``tsabot airflow up|down``: the local Airflow UI with this project's DAGs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    airflow = subparsers.add_parser("airflow", help="run the DAGs in a local airflow standalone")
    actions = airflow.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up", help="start Airflow, trigger one run of tsa_daily, print the UI and a report"
    )
    up.add_argument("--online", action="store_true", help="scrape tsa.gov instead of the offline page set")
    up.add_argument("--port", type=int, help="UI port (default 8080)")
    up.set_defaults(handler=up_command)
    down = actions.add_parser("down", help="stop the local Airflow and the embedded warehouse")
    down.add_argument("--port", type=int)
    down.set_defaults(handler=down_command)


def up_command(args: argparse.Namespace) -> int:
    from tsa_bot.local_airflow import local_airflow
    from tsa_bot.reports import run_report

    airflow = local_airflow(args.port, offline=not args.online)
    print(f"Starting Airflow (logs: {airflow.service.log_file}) ...", flush=True)
    airflow.start()
    run = airflow.trigger_and_wait("tsa_daily", {"offline": not args.online})
    print(f"\nAirflow UI: {airflow.url}  login: admin / {airflow.password()}")
    print(f"Run {run['dag_run_id']}: {run['state']}")
    print(run_report(f"tsa_daily/{run['dag_run_id']}"))
    print("\nStop everything with: make down")
    return 0 if run["state"] == "success" else 1


def down_command(args: argparse.Namespace) -> int:
    from tsa_bot.local_airflow import local_airflow
    from tsa_bot.warehouse.engine import stop_embedded

    stopped = local_airflow(args.port).stop()
    print(f"stopped {', '.join(stopped)}" if stopped else "Airflow was not running")
    if stop_embedded():
        print("stopped the embedded warehouse")
    return 0
