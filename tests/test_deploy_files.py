"""docker-compose.yaml and the Dockerfile, checked statically against the local run (no Docker here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
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


def test_the_optional_simulator_serves_the_offline_demo_market():
    """The same market as `tsabot airflow up` starts: the year of history and the crowd-priced week."""
    from tsa_bot.local.airflow_runner import _offline_week, demo_market_arguments

    simulator = compose()["services"]["simulator"]
    assert simulator["profiles"] == ["offline"]
    command = simulator["command"]
    assert command[:1] == ["simulator"]
    market = demo_market_arguments(_offline_week())
    assert command[-len(market) :] == market
    assert "--seed-center" not in command


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


def interpolate(value: str, env: dict[str, str]) -> str:
    """docker compose's ``${VAR:-default}`` and ``${VAR:?error}`` substitution, as `compose config` does."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


CELERY_ENV = {"AIRFLOW_EXECUTOR": "CeleryExecutor", "AIRFLOW_JWT_SECRET": "s3cret"}


def test_the_celery_profile_adds_a_redis_broker_and_workers_and_leaves_the_default_run_alone():
    services = compose()["services"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert services["flower"]["profiles"] == ["flower"]  # optional on top of the celery profile
    assert all("profiles" not in services[name] for name in AIRFLOW_SERVICES | {"postgres"})
    executor = services["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"]
    assert interpolate(executor, {"AIRFLOW_JWT_SECRET": "x"}) == "LocalExecutor"
    assert interpolate(executor, CELERY_ENV) == "CeleryExecutor"
    assert services["airflow-worker"]["command"].split()[:2] == ["celery", "worker"]
    assert services["flower"]["command"] == "celery flower"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_workers_share_the_schedulers_broker_results_api_and_jwt_secret():
    services = compose()["services"]
    shared = (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW_CONN_TSA_WAREHOUSE",
    )
    scheduler = services["airflow-scheduler"]["environment"]
    for name in ("airflow-worker", "airflow-apiserver", "flower"):
        env = services[name]["environment"]
        assert {k: env[k] for k in shared} == {k: scheduler[k] for k in shared}, name
    # The broker is the redis service; task results go to the metadata database on the postgres service.
    assert scheduler["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    backend = scheduler["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend == "db+" + scheduler["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # The JWT secret comes from the environment (no secret in the file) and compose refuses to start without.
    secret = scheduler["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert interpolate(secret, CELERY_ENV) == "s3cret"
    with pytest.raises(KeyError, match="AIRFLOW_JWT_SECRET"):
        interpolate(secret, {})
    worker = services["airflow-worker"]
    assert worker["volumes"] == services["airflow-scheduler"]["volumes"]  # the same DAGs and package
    assert worker["environment"]["DUMB_INIT_SETSID"] == "0"  # Celery's warm shutdown finishes tasks
    depends = {name: d["condition"] for name, d in worker["depends_on"].items()}
    assert depends == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "airflow-apiserver": "service_healthy",
        "airflow-init": "service_completed_successfully",
    }


def test_the_celery_settings_name_an_importable_config_and_a_pinned_provider():
    from importlib import import_module

    env = compose()["services"]["airflow-worker"]["environment"]
    module, _, attribute = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    config = getattr(import_module(module), attribute)
    assert "broker_url" in config and "tsa_bot.orchestration.daily" in config["imports"]
    assert pinned("apache-airflow-providers-celery")


def test_the_compose_simulator_url_is_allowed_in_paper_and_demo_but_not_a_production_look_alike(monkeypatch):
    """The offline profile can trade: its services name the simulator's host as allowed, nothing more."""
    from tsa_bot.core.errors import ConfigurationError
    from tsa_bot.kalshi.errors import UnknownHostRefused
    from tsa_bot.kalshi.hosts import Environment, check_mode_host, environment_of
    from tsa_bot.trading.config import TradingMode

    env = compose()["services"]["airflow-scheduler"]["environment"]
    assert compose()["services"]["simulator"]["environment"]["TSABOT_SIMULATOR_HOSTS"] == "simulator"
    monkeypatch.setenv("TSABOT_SIMULATOR_HOSTS", env["TSABOT_SIMULATOR_HOSTS"])
    simulator = "http://simulator:8765/trade-api/v2"
    assert environment_of(simulator) is Environment.SIMULATOR
    for mode in (TradingMode.PAPER, TradingMode.DEMO):
        check_mode_host(mode, simulator)
    with pytest.raises(ConfigurationError, match="live mode trades on production only"):
        check_mode_host(TradingMode.LIVE, simulator)
    with pytest.raises(UnknownHostRefused):
        environment_of("http://simulator.example.net:8765/trade-api/v2")
    assert environment_of("https://external-api\u3002kalshi\u3002com/trade-api/v2") is Environment.PRODUCTION


# ---- issue 18: compose defaults -------------------------------------------------------------------------

REQUIRED_ENV = {"AIRFLOW_JWT_SECRET": "s3cret", "AIRFLOW_ADMIN_PASSWORD": "pw"}


def _ports(service: dict, env: dict[str, str]) -> list:
    return [interpolate(p, env) if isinstance(p, str) else p for p in service.get("ports", [])]


def test_every_published_port_binds_to_loopback_by_default():
    """The Airflow UI and Flower were published on every interface (issue 18)."""
    services = compose()["services"]
    published = {name: _ports(s, REQUIRED_ENV) for name, s in services.items() if s.get("ports")}
    assert {"airflow-apiserver", "flower"} <= set(published)
    for name, ports in published.items():
        assert ports and not [p for p in ports if _published_on_all_interfaces(p)], (name, ports)
    # Opening the UI to the network is a choice made in .env, not a default.
    ui = services["airflow-apiserver"]["ports"][0]
    assert interpolate(ui, {**REQUIRED_ENV, "AIRFLOW_UI_BIND": "0.0.0.0"}).startswith("0.0.0.0:")


def test_the_admin_password_is_a_required_setting_not_airflow_airflow():
    init = compose()["services"]["airflow-init"]
    password = init["environment"]["AIRFLOW_ADMIN_PASSWORD"]
    with pytest.raises(KeyError, match="AIRFLOW_ADMIN_PASSWORD"):
        interpolate(password, {})
    assert interpolate(password, REQUIRED_ENV) == "pw"
    script = "\n".join(init["command"])
    assert '"airflow": "airflow"' not in script and "AIRFLOW_ADMIN_PASSWORD" in script
    assert "$AIRFLOW_ADMIN_PASSWORD" not in script.replace("$$", "")  # read by the script, not pasted in
    for name in ("AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_UI_BIND", "FLOWER_BASIC_AUTH"):
        assert name in (PROJECT / ".env.example").read_text(), name
        assert name in (PROJECT / "README.md").read_text(), name
    assert "(airflow / airflow)" not in (PROJECT / "docker-compose.yaml").read_text()


def test_flower_is_local_and_takes_basic_auth_from_the_environment():
    flower = compose()["services"]["flower"]
    assert all(str(p).startswith("127.0.0.1:") for p in _ports(flower, REQUIRED_ENV))
    auth = flower["environment"]["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"]
    assert interpolate(auth, {"FLOWER_BASIC_AUTH": "ops:pw"}) == "ops:pw"
