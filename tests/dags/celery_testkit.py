"""A real Airflow on the CeleryExecutor, for the Celery test and the worker benchmark.

`airflow api-server`, `scheduler`, `dag-processor` and N `airflow celery worker`s, each in its own session
(process group), on a PostgreSQL metadata DB and the Redis broker at 127.0.0.1:6379. Workers listen on a
queue named for this cluster alone, so runs sharing the Redis server never take each other's tasks. Every
group is stopped on the way out.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tsa_bot.local.airflow_runner import trigger_and_wait

PROJECT_DIR = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def redis_answers(host: str = REDIS_HOST, port: int = REDIS_PORT) -> str | None:
    """None if a Redis server answers PING there, else why not."""
    try:
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError as exc:
        return f"no Redis answers at {host}:{port} ({exc.strerror or exc})"
    return None if reply.startswith(b"+PONG") else f"{host}:{port} is not Redis (answered {reply[:20]!r})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class CeleryAirflow:
    """The running cluster: its REST API (all users admin) and where its logs are."""

    home: Path
    url: str
    queue: str

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v2", timeout=120)

    def trigger_and_wait(self, dag_id: str, conf: dict, timeout_s: float) -> dict:
        """Unpause, trigger a manual run with ``conf`` and wait until it succeeds or fails; the run's JSON."""
        with self.api() as api:
            return trigger_and_wait(
                api,
                dag_id,
                conf,
                timeout_s=timeout_s,
                logs=f"{self.home}/*.log",
                appear_poll_s=1,
                run_poll_s=1,
            )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        with self.api() as api:
            found = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
            found.raise_for_status()
            return found.json()["task_instances"]

    def logs(self) -> str:
        """The tail of every service's log, for an assertion message."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in self.home.glob("*.log")
        )


def celery_environment(home: Path, metadata_url: str, port: int, queue: str, extra: dict[str, str]) -> dict:
    """The configuration every component shares: executor, broker, result backend, API and JWT secret."""
    url = make_url(metadata_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        {
            "PATH": os.pathsep.join([str(AIRFLOW.parent), env.get("PATH", "")]),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{url}",
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "tsa_bot.orchestration.celery_config.CELERY_CONFIG",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            # The scheduler signs each task's token, the api-server checks it: one secret for both.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            # Only the runs a test triggers: unpausing must not also start today's scheduled run.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        }
    )
    env.update(extra)
    return env


@contextmanager
def celery_airflow(
    home: Path,
    metadata_url: str,
    *,
    workers: int = 1,
    concurrency: int = 1,
    extra_env: dict[str, str] | None = None,
    timeout_s: float = 180,
) -> Iterator[CeleryAirflow]:
    """Migrate ``metadata_url`` (an empty PostgreSQL database), start the cluster, stop it on exit."""
    port = free_port()
    queue = f"tsabot-{uuid.uuid4().hex[:12]}"
    env = celery_environment(home, metadata_url, port, queue, extra_env or {})
    home.mkdir(parents=True, exist_ok=True)
    migrate = subprocess.run(
        [str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, timeout=timeout_s
    )
    if migrate.returncode:
        raise RuntimeError(f"airflow db migrate failed: {migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
    commands = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        **{
            f"worker-{i}": [
                "celery",
                "worker",
                "--queues",
                queue,
                "--concurrency",
                str(concurrency),
                "--celery-hostname",
                f"{queue}-{i}@%h",
                "--skip-serve-logs",  # several workers on one host would fight over the log port
                "--without-mingle",
                "--without-gossip",
            ]
            for i in range(1, workers + 1)
        },
    }
    cluster = CeleryAirflow(home, f"http://127.0.0.1:{port}", queue)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, args in commands.items():
            with (home / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [str(AIRFLOW), *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        _wait_until_up(cluster, processes, timeout_s)
        yield cluster
    finally:
        stop_groups(list(processes.values()))
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Drop what Celery left in Redis for this cluster's queue (its bindings and any unsent message)."""
    import redis

    client = redis.Redis(REDIS_HOST, REDIS_PORT, socket_timeout=5)
    try:
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
    finally:
        client.close()


def stop_groups(processes: list[subprocess.Popen], grace_s: float = 20) -> None:
    """SIGTERM each process's whole group at once, wait for the leaders, then SIGKILL what is left."""
    for proc in processes:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in processes:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    for proc in processes:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_until_up(cluster: CeleryAirflow, processes: dict, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        exited = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
        if exited:
            raise RuntimeError(f"exited early: {exited}\n{cluster.logs()}")
        try:
            if httpx.get(f"{cluster.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"the api-server did not answer within {timeout_s:.0f}s\n{cluster.logs()}")
