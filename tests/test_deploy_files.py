"""docker-compose.yaml and the Dockerfile, checked statically against the local run (no Docker here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


def compose() -> dict:
    return yaml.safe_load((PROJECT / "docker-compose.yaml").read_text())


def pinned(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (PROJECT / "requirements.txt").read_text(), re.M)
    assert match, f"{package} is not pinned in requirements.txt"
    return match.group(1)


def test_compose_has_the_airflow3_services_on_postgres():
    services = compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres"} <= set(services)
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_compose_runs_the_same_dags_and_package_as_the_local_run():
    common = compose()["services"]["airflow-scheduler"]
    mounts = dict(volume.split(":", 1) for volume in common["volumes"] if volume.startswith("./"))
    assert mounts["./dags"] == common["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
    assert mounts["./include"] == "/opt/airflow/project/include"
    assert (PROJECT / "dags" / "tsa_daily.py").exists() and (PROJECT / "include" / "tsa_bot").is_dir()


def test_the_warehouse_is_its_own_database_reached_through_the_documented_connection():
    env = compose()["services"]["airflow-scheduler"]["environment"]
    warehouse = env["AIRFLOW_CONN_TSA_WAREHOUSE"]
    assert warehouse.startswith("postgresql://") and warehouse.rsplit("/", 1)[1] == "warehouse"
    init_sql = (PROJECT / "docker" / "postgres-init" / "01-warehouse.sql").read_text()
    assert "create database warehouse" in init_sql
    mounts = compose()["services"]["postgres"]["volumes"]
    assert "./docker/postgres-init:/docker-entrypoint-initdb.d:ro" in mounts
    assert "tsa_warehouse" in (PROJECT / "README.md").read_text()


def test_dockerfile_matches_the_pinned_airflow_and_installs_the_package():
    dockerfile = (PROJECT / "Dockerfile").read_text()
    assert f"FROM apache/airflow:{pinned('apache-airflow')}" in dockerfile
    assert "-r /opt/airflow/project/requirements.txt" in dockerfile
    assert "COPY requirements.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps -e /opt/airflow/project" in dockerfile


def test_the_optional_simulator_serves_the_offline_demo_week():
    from tsa_bot.local_airflow import DEMO_MARKET_CENTER, _offline_week

    simulator = compose()["services"]["simulator"]
    assert simulator["profiles"] == ["offline"]
    command = simulator["command"]
    assert command[:1] == ["simulator"]
    assert command[command.index("--seed-week") + 1] == _offline_week().isoformat()
    assert int(command[command.index("--seed-center") + 1]) == DEMO_MARKET_CENTER


def _published_on_all_interfaces(port: str | int | dict) -> bool:
    """A compose port entry that the host publishes beyond loopback (short or long syntax)."""
    if isinstance(port, dict):
        return "published" in port and port.get("host_ip", "0.0.0.0") not in ("127.0.0.1", "::1")
    text = str(port)
    return text.count(":") >= 1 and not text.startswith(("127.0.0.1:", "[::1]:"))


def test_the_simulator_is_reachable_only_on_the_compose_network_with_an_admin_token():
    simulator = compose()["services"]["simulator"]
    assert not [p for p in simulator.get("ports", []) if _published_on_all_interfaces(p)]
    command = simulator["command"]
    assert str(command[command.index("--port") + 1]) in [str(p) for p in simulator["expose"]]
    assert "--admin-token" not in command  # a command line is visible to every user of the host
    assert simulator["environment"]["TSABOT_SIM_ADMIN_TOKEN"].startswith("${TSABOT_SIM_ADMIN_TOKEN")
    # The airflow services still get the common environment next to it.
    assert simulator["environment"]["AIRFLOW_CONN_TSA_WAREHOUSE"].startswith("postgresql://")


def test_published_port_detection():
    assert _published_on_all_interfaces("8765:8765") and _published_on_all_interfaces("0.0.0.0:8765:8765")
    assert not _published_on_all_interfaces("127.0.0.1:8765:8765") and not _published_on_all_interfaces(
        "8765"
    )
    assert _published_on_all_interfaces({"target": 8765, "published": 8765})
    assert not _published_on_all_interfaces({"target": 8765, "published": 8765, "host_ip": "127.0.0.1"})
