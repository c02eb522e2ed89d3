"""Run the project's DAGs in a local ``airflow standalone`` (SQLite metadata DB, LocalExecutor).

``up`` starts Airflow (and, offline, the Kalshi exchange simulator with a demo key) each in its own
process group, waits for the API, triggers runs and waits for them; ``down`` stops each whole process
group (SIGTERM to a parent alone leaves orphans) and the embedded warehouse. State lives in
``<state_dir>/airflow`` and ``<state_dir>/simulator``.

Offline, the simulator hosts the crowd market of ``tsa_bot.kalshi_sim``: the :data:`HISTORY_WEEKS` weeks
before the offline week, settled, with their quote history, and the offline week itself, priced by the
crowd where it stands (no fixed curve). The demo downloads that history and replays it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx

from tsa_bot.core.config import PACKAGE_DIR, get_settings
from tsa_bot.core.errors import TsaBotError

PROJECT_DIR = PACKAGE_DIR.parents[1]
BIN_DIR = Path(sys.executable).parent
DEFAULT_PORT = 8080
SIMULATOR_PORT = 8765
DEMO_KEY_ID = "tsabot-local-demo"
# The past weeks the demo's simulator hosts with their quote history, and the demo downloads and replays.
HISTORY_WEEKS = 52


class LocalAirflowError(TsaBotError):
    """The local Airflow or simulator did not start, or the triggered run did not finish."""


@dataclass(frozen=True)
class BackgroundService:
    """A command run in its own session, found again through its pid file, stopped as a group."""

    name: str
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.killpg(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def start(self, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process

    def stop(self, timeout_s: float = 30) -> bool:
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.5)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(url: str, process: subprocess.Popen, service: BackgroundService, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalAirflowError(
                f"{service.name} exited with {process.returncode}; see {service.log_file}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise LocalAirflowError(
        f"{service.name} did not answer on {url} within {timeout_s:.0f}s; see {service.log_file}"
    )


@dataclass(frozen=True)
class DemoExchange:
    """The local Kalshi simulator the offline demo trades against, with a key made on first use."""

    home: Path
    port: int = SIMULATOR_PORT

    @property
    def service(self) -> BackgroundService:
        return BackgroundService("simulator", self.home)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/trade-api/v2"

    @property
    def private_key_path(self) -> Path:
        return self.home / "demo-key.pem"

    def _ensure_key(self) -> Path:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        public = self.home / "demo-key.pub.pem"
        if not self.private_key_path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            self.private_key_path.touch(mode=0o600)
            self.private_key_path.write_bytes(pem)
            public.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return public

    def command(self, week_start: date, public_key: Path) -> list[str]:
        return [
            str(BIN_DIR / "tsabot"),
            "simulator",
            "--port",
            str(self.port),
            *demo_market_arguments(week_start),
            "--key-id",
            DEMO_KEY_ID,
            "--public-key",
            str(public_key),
        ]

    def start(self, week_start: date) -> None:
        if self.service.running_pid():
            return
        process = self.service.start(self.command(week_start, self._ensure_key()), dict(os.environ))
        _wait_for(f"http://127.0.0.1:{self.port}/sim/health", process, self.service, 30)

    def environment(self) -> dict[str, str]:
        return {
            "KALSHI_API_BASE": self.api_base,
            "KALSHI_KEY_ID": DEMO_KEY_ID,
            "KALSHI_PRIVATE_KEY_PATH": str(self.private_key_path),
        }


@dataclass(frozen=True)
class LocalAirflow:
    home: Path
    port: int = DEFAULT_PORT
    offline: bool = True

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def service(self) -> BackgroundService:
        return BackgroundService("standalone", self.home)

    @property
    def exchange(self) -> DemoExchange:
        return DemoExchange(self.home.parent / "simulator")

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                # standalone runs `airflow ...` subprocesses by name
                "PATH": os.pathsep.join([str(BIN_DIR), env.get("PATH", "")]),
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
        if self.offline:
            env.update(self.exchange.environment())
        return env

    def password(self) -> str:
        generated = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(generated.read_text())["admin"]

    def start(self, timeout_s: float = 300) -> None:
        if self.offline:
            self.exchange.start(_offline_week())
        if self.service.running_pid():
            return
        process = self.service.start([str(BIN_DIR / "airflow"), "standalone"], self.environment())
        _wait_for(f"{self.url}/api/v2/monitor/health", process, self.service, timeout_s)
        deadline = time.monotonic() + 60
        while not (self.home / "simple_auth_manager_passwords.json.generated").exists():
            if time.monotonic() > deadline:
                raise LocalAirflowError(f"no admin password was generated; see {self.service.log_file}")
            time.sleep(1)

    def stop(self) -> list[str]:
        stopped = [s.name for s in (self.service, self.exchange.service) if s.stop()]
        return stopped

    def client(self) -> httpx.Client:
        token = httpx.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": self.password()}, timeout=10
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=f"{self.url}/api/v2", headers=auth, timeout=30)

    def trigger_and_wait(self, dag_id: str, conf: dict, timeout_s: float = 900) -> dict:
        """Trigger a manual run (no logical date) and wait until it succeeds or fails."""
        with self.client() as api:
            return trigger_and_wait(api, dag_id, conf, timeout_s=timeout_s, logs=f"{self.home}/logs")


def trigger_and_wait(
    api: httpx.Client,
    dag_id: str,
    conf: dict,
    *,
    timeout_s: float,
    logs: str,
    appear_poll_s: float = 2,
    run_poll_s: float = 3,
) -> dict:
    """Through ``api`` (an Airflow REST client at ``/api/v2``): wait for the DAG to be parsed, unpause it,
    trigger a manual run with ``conf`` and wait until it succeeds or fails; the run's JSON. ``logs``: where
    to look when the DAG does not appear, for the error."""
    deadline = time.monotonic() + 120
    while api.get(f"/dags/{dag_id}").status_code == 404:  # the dag-processor has not parsed it yet
        if time.monotonic() > deadline:
            raise LocalAirflowError(f"DAG {dag_id} did not appear; check {logs}")
        time.sleep(appear_poll_s)
    api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    created = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    created.raise_for_status()
    run_id = created.json()["dag_run_id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
        except httpx.TransportError:  # a busy api-server answers late: ask again
            continue
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(run_poll_s)
    raise LocalAirflowError(f"run {run_id} of {dag_id} did not finish within {timeout_s:.0f}s")


def _offline_week():
    """The week the offline demo trades: the one after the page set's last published day."""
    from tsa_bot.forecast.data import week_start_of
    from tsa_bot.sources.offline import CURRENT_PATH, site_pages
    from tsa_bot.sources.tsa_page import parse_page

    newest = parse_page(site_pages()[CURRENT_PATH])[-1].day
    return week_start_of(newest + timedelta(days=1))


def demo_history(week_start: date) -> tuple[date, date]:
    """The first and last Monday of the weeks the demo's simulator hosts: the year before ``week_start``."""
    return week_start - timedelta(weeks=HISTORY_WEEKS), week_start - timedelta(weeks=1)


def demo_market_arguments(week_start: date) -> list[str]:
    """``tsabot simulator`` arguments of the demo's market: the crowd's history of the year before the
    week, and the week, priced by the same crowd (truth: the shipped TSA pages, as the offline run's)."""
    first, last = demo_history(week_start)
    return [
        "--history-start",
        first.isoformat(),
        "--history-end",
        last.isoformat(),
        "--seed-week",
        week_start.isoformat(),
    ]


def demo_replay_confs(week_start: date) -> tuple[dict, dict]:
    """The offline demo's ``tsa_market_history`` backfill of the hosted weeks (daily candles, the markets
    closing on their Sundays) and its ``tsa_replay`` of the same weeks."""
    first, last = demo_history(week_start)
    history = {"start": first.isoformat(), "end": (last + timedelta(days=6)).isoformat(), "period": 1440}
    replay = {"start": first.isoformat(), "end": last.isoformat(), "period": 1440}
    return history, replay


def local_airflow(port: int | None = None, *, offline: bool = True) -> LocalAirflow:
    return LocalAirflow(home=get_settings().state_dir / "airflow", port=port or DEFAULT_PORT, offline=offline)
