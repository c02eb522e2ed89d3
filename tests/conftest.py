"""Shared fixtures: a real PostgreSQL per test, and Airflow's environment set before it is imported.

PostgreSQL: the server on 127.0.0.1:5432 when it answers, otherwise an embedded one from ``pgserver``
(set ``TSABOT_TEST_EMBEDDED_PG=1`` to force the embedded path). Each test gets its own fresh, migrated
database, dropped afterwards: a copy of a template database the session migrates once.

The suite runs in parallel (``make test``: pytest-xdist over every core). Each worker process has its own
Airflow home, state folder and databases; the forecast point cache is the one thing the workers share
(its entries are content-keyed and written atomically), so every Prophet fit happens once per run.
Slow tests are handed out first, so the quick ones even out the workers' ends.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

# Airflow reads its configuration at import time: set it before any test module imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="tsabot-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["TSABOT_RETRY_DELAY_S"] = "1"  # DAG retries in dag.test() wait seconds, not minutes
os.environ.pop("TSA_WAREHOUSE_URL", None)
os.environ.pop("AIRFLOW_CONN_TSA_WAREHOUSE", None)

import psycopg  # noqa: E402
import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

# CI draws the same examples on every run, so a landing never hangs on one unlucky draw; developers' runs
# draw new ones each time, which is where a new failure is found (and then kept as an explicit example).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHARED_DATA_CSV = PROJECT_DIR.parent / "shared" / "data" / "tsa_daily_2019_2025.csv"
LOCAL_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _local_postgres_is_up() -> bool:
    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=2):
            return True
    except psycopg.Error:
        return False


# Tests one xdist worker runs in turn, by the node id they start with (make test: --dist loadgroup, through
# the scheduler below: xdist 3.8 marks a group by renaming node ids, which pytest 9.2 no longer reads, so
# the xdist_group mark has no effect). Most fit Prophet on the same weeks: in turn, the first fits them and
# the others read them back from the run's cache; at once, each would fit them all. The others build an
# expensive module fixture once.
WORKER_GROUPS = {
    "offline-week": (  # the offline run's week, 2025-12-29, and its 8 calibration weeks
        "tests/dags/test_celery_executor.py",
        "tests/dags/test_daily_pipeline.py::test_a_green_offline_run",
        "tests/dags/test_daily_pipeline.py::test_a_retried_order_task",
        "tests/ui/test_ui_pages.py",  # and its `filled` fixture once
    ),
    "june-2025": (
        "tests/dags/test_daily_pipeline.py::test_backfill_replays_two_weeks",
        "tests/forecast/test_forecast_store.py::test_forecast_to_warehouse",
    ),
    "march-2025": (
        "tests/replay/test_replay_cli.py::test_replay_end_to_end",
        "tests/replay/test_replay_dag.py",
        "tests/replay/test_replay_point_in_time.py",
    ),
    "autumn-2025": ("tests/replay/test_replay_scores.py", "tests/quotes/test_quotes_dag.py"),
    "pool-2025": (  # k = 3 from October 2024 to June 2025: the forecast task's pool, then its point in time
        "tests/forecast/test_forecast_pool_task.py",
        "tests/forecast/test_forecast_pool.py::test_the_backtests_pool_at_a_moment",
    ),
    "sim-history": ("tests/kalshi/test_kalshi_sim_history.py",),  # its year of history once
    "real-week": ("tests/replay/test_replay_real_shapes.py::test_every_policy",),  # KXTSAW-26MAR22's fits
}


def worker_group(nodeid: str) -> str:
    """The WORKER_GROUPS name of a test, else its own node id (a unit of its own)."""
    return next((group for group, prefixes in WORKER_GROUPS.items() if nodeid.startswith(prefixes)), nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup``: xdist's load-by-scope scheduling, a scope being a test's worker_group. Scopes go
    out in collection order (with ``--no-loadscope-reorder``): see pytest_collection_modifyitems."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkerGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return WorkerGroupScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort): xdist hands tests out in this order, so the long ones start
    early and the many quick ones fill in until the workers end together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this whole run: the base temp, or under xdist the one its workers' base temps share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def forecast_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One forecast cache for the whole run (``TSABOT_FORECAST_CACHE_DIR``, its folder): a week fitted by
    one test is read back by every other, in every worker. And a state folder of this worker's own, so
    nothing reaches the checkout's .state. Tests of the cache itself pass their own ``PointCache``."""
    from tsa_bot.core.config import get_settings

    cache = _run_folder(tmp_path_factory) / "forecast-cache"
    cache.mkdir(exist_ok=True)
    saved = {name: os.environ.get(name) for name in ("TSABOT_STATE_DIR", "TSABOT_FORECAST_CACHE_DIR")}
    os.environ["TSABOT_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    os.environ["TSABOT_FORECAST_CACHE_DIR"] = str(cache)
    get_settings.cache_clear()
    yield cache
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL of a running PostgreSQL server, for creating per-test databases."""
    if os.environ.get("TSABOT_TEST_EMBEDDED_PG") != "1" and _local_postgres_is_up():
        yield LOCAL_PG_URL
        return
    import pgserver

    # "delete", not "stop": only that mode also unregisters the atexit hook pgserver registers. With "stop"
    # the hook ran again at interpreter exit and logged through a handler whose stream pytest had closed
    # (the "--- Logging error ---" block at the end of the embedded run).
    server = pgserver.get_server(tmp_path_factory.mktemp("embedded-pg"), cleanup_mode="delete")
    yield make_url(server.get_uri()).set(drivername="postgresql+psycopg").render_as_string(False)
    server.cleanup()


def _admin_execute(admin_url: str, statement: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def scratch_database(pg_admin_url: str) -> Callable[..., AbstractContextManager[str]]:
    """``with scratch_database("prefix") as url``: a brand-new database, dropped on the way out; empty, or
    a copy of the database named by ``template``."""

    @contextmanager
    def database(prefix: str, template: str | None = None) -> Iterator[str]:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        _admin_execute(
            pg_admin_url, f'create database "{name}"' + (f' template "{template}"' if template else "")
        )
        try:
            yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            from tsa_bot.warehouse.engine import _engine_for

            _engine_for.cache_clear()
            _admin_execute(pg_admin_url, f'drop database if exists "{name}" with (force)')

    return database


@pytest.fixture(scope="session")
def migrated_template(scratch_database: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """The name of a database with every migration applied, for ``warehouse_url`` to copy (the copy takes
    what creating an empty database takes; migrating each one would add as much again). Nothing connects
    to it after the migration: PostgreSQL copies a template only while no session is on it."""
    from tsa_bot.warehouse.migrate import migrate

    with scratch_database("tsabot_template") as url:
        engine = sa.create_engine(url)
        try:
            migrate(engine)
        finally:
            engine.dispose()
        yield make_url(url).database


@pytest.fixture
def empty_database_url(scratch_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    """A brand-new, empty database on the test server (no schema)."""
    with scratch_database("tsabot_test") as url:
        yield url


@pytest.fixture
def warehouse_url(
    scratch_database: Callable[..., AbstractContextManager[str]], migrated_template: str
) -> Iterator[str]:
    """A fresh database with every migration applied (a copy of the session's migrated template)."""
    with scratch_database("tsabot_test", template=migrated_template) as url:
        yield url


@pytest.fixture
def warehouse_engine(warehouse_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(warehouse_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def shared_csv() -> Path:
    if not SHARED_DATA_CSV.exists():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA_CSV


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB (SQLite in the temporary AIRFLOW_HOME), created once per session."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def tsa_env(monkeypatch: pytest.MonkeyPatch, warehouse_url: str):
    """Point the bot at the test warehouse; returns a setter for the TSA site's base URL."""
    from tsa_bot.core.config import get_settings

    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("TSABOT_HTTP_BACKOFF_S", "0.01")

    def use_site(base_url: str) -> None:
        monkeypatch.setenv("TSABOT_TSA_BASE_URL", base_url)
        get_settings.cache_clear()

    get_settings.cache_clear()
    yield use_site
    get_settings.cache_clear()


@pytest.fixture
def tsa_daily_dag(airflow_db):
    """The daily DAG as Airflow parses it from dags/ (no import errors allowed).

    Parsed afresh for every test: dag.test() folds a run's conf into the DAG object's params, which
    would leak into the next test's runs (a deployed task parses the DAG anew each time).
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("tsa_daily")
