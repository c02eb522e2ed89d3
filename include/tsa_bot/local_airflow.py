"""Run the project's DAGs in a local ``airflow standalone`` (SQLite metadata DB, LocalExecutor).

``up`` starts it in its own process group, waits for the API, triggers one run and waits for it;
``down`` stops the whole process group (SIGTERM to the parent alone leaves orphans) and the embedded
warehouse. State lives in ``<state_dir>/airflow``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tsa_bot.config import PACKAGE_DIR, get_settings
from tsa_bot.errors import TsaBotError

PROJECT_DIR = PACKAGE_DIR.parents[1]
DEFAULT_PORT = 8080


class LocalAirflowError(TsaBotError):
    """The local Airflow did not start, or the triggered run did not finish."""


@dataclass(frozen=True)
class LocalAirflow:
    home: Path
    port: int = DEFAULT_PORT

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "standalone.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "standalone.log"

    offline: bool = True

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        bin_dir = str(Path(sys.executable).parent)  # standalone runs `airflow ...` subprocesses by name
        env.update(
            {
                "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{self.port}/execution/",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "TSABOT_STATE_DIR": str(get_settings().state_dir),
                # Scheduled runs too: unpausing the DAG starts today's run at once.
                "TSABOT_OFFLINE": "1" if self.offline else "0",
            }
        )
        return env

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def password(self) -> str:
        generated = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(generated.read_text())["admin"]

    def start(self, timeout_s: float = 240) -> None:
        if self.running_pid():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).with_name("airflow"))
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [airflow, "standalone"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, stopped as a whole by down()
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalAirflowError(
                    f"airflow standalone exited with {process.returncode}; see {self.log_file}"
                )
            try:
                if (
                    httpx.get(f"{self.url}/api/v2/monitor/health", timeout=2).status_code == 200
                    and (self.home / "simple_auth_manager_passwords.json.generated").exists()
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2)
        raise LocalAirflowError(
            f"Airflow did not answer on {self.url} within {timeout_s:.0f}s; see {self.log_file}"
        )

    def stop(self, timeout_s: float = 30) -> bool:
        pid = self.running_pid()
        if pid is None:
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.5)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def client(self) -> httpx.Client:
        token = httpx.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": self.password()}, timeout=10
        ).json()["access_token"]
        return httpx.Client(
            base_url=f"{self.url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def trigger_and_wait(self, dag_id: str, conf: dict, timeout_s: float = 900) -> dict:
        """Trigger a manual run (no logical date) and wait until it succeeds or fails."""
        with self.client() as api:
            deadline = time.monotonic() + 120
            while api.get(f"/dags/{dag_id}").status_code == 404:  # the dag-processor has not parsed it yet
                if time.monotonic() > deadline:
                    raise LocalAirflowError(f"DAG {dag_id} did not appear; check {self.home}/logs")
                time.sleep(2)
            api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
            created = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
            created.raise_for_status()
            run_id = created.json()["dag_run_id"]
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
                if run["state"] in ("success", "failed"):
                    return run
                time.sleep(3)
        raise LocalAirflowError(f"run {run_id} of {dag_id} did not finish within {timeout_s:.0f}s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def local_airflow(port: int | None = None, *, offline: bool = True) -> LocalAirflow:
    return LocalAirflow(home=get_settings().state_dir / "airflow", port=port or DEFAULT_PORT, offline=offline)
