"""The little the DAG files need from Airflow's task context, kept out of the DAG files themselves."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from tsa_bot.core.config import get_settings
from tsa_bot.core.errors import is_retryable, one_line
from tsa_bot.orchestration.alerts import on_task_failure

P = ParamSpec("P")
R = TypeVar("R")

KALSHI_CONN_ID = "kalshi"


def retry_delay() -> timedelta:
    """The base retry delay (``TSABOT_RETRY_DELAY_S``; tests make it a second)."""
    return timedelta(seconds=get_settings().retry_delay_s)


def task_defaults(*, retries: int, execution_timeout: timedelta) -> dict[str, Any]:
    """The ``default_args`` every DAG of the project starts from: retries backing off exponentially from
    :func:`retry_delay` up to twenty times it, a timeout, and the failure alert."""
    delay = retry_delay()
    return {
        "retries": retries,
        "retry_delay": delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": 20 * delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": [on_task_failure],
    }


def run_key(context: Mapping[str, Any]) -> str:
    """Identifies this DAG run's rows in the warehouse, so a retry or a re-run updates instead of adding.

    A run with a logical date is keyed by it (re-running that day finds its rows again, whatever the
    run id); a manual run without one by its run id.
    """
    logical_date = context.get("logical_date")
    if logical_date is not None:
        return f"{context['dag'].dag_id}/{logical_date.isoformat()}"
    return f"{context['dag'].dag_id}/{context['run_id']}"


# A run acting for a moment further back than this is a replay, whatever started it.
REPLAY_AGE = timedelta(days=1)


def run_info(context: Mapping[str, Any]):
    """The run as the ``orchestration.daily`` steps see it: key, time, backfill (replay) or not, params.

    A backfill, or any run whose logical date lies more than a day in the past, replays that moment:
    it reads only what was published by then, scrapes nothing, and trades only on paper.
    """
    from tsa_bot.orchestration.daily import RunInfo

    dag_run = context["dag_run"]
    logical_date = context.get("logical_date")
    # Manual runs may have no logical date in Airflow 3: act for the moment they were triggered.
    moment = logical_date or dag_run.run_after or datetime.now(UTC)
    run_type = getattr(dag_run, "run_type", "")
    backfill = getattr(run_type, "value", str(run_type)) == "backfill" or (
        logical_date is not None and logical_date < datetime.now(UTC) - REPLAY_AGE
    )
    params = dict(context["params"])
    if backfill:
        params.update(backfill=True, mode="paper", live=False)
    return RunInfo(run_key(context), moment, backfill, params)


def current_run():
    """:func:`run_info` of the task being executed."""
    from airflow.sdk import get_current_context

    return run_info(get_current_context())


def kalshi_settings():
    """Where and who on Kalshi for this task: the Airflow connection ``kalshi`` over the environment.

    The connection's host is the API base, its login the key id, its password (or extra
    ``private_key``) the PEM, which stays in memory: nothing is written to the environment. Without the
    connection, the environment's ``KALSHI_*`` settings.
    """
    from dataclasses import replace

    import httpx
    from airflow.sdk import BaseHook

    from tsa_bot.kalshi.hosts import KalshiSettings

    settings = KalshiSettings.from_env()
    try:
        conn = BaseHook.get_connection(KALSHI_CONN_ID)
    except Exception:
        return settings
    changes: dict[str, Any] = {}
    if conn.host:
        scheme = conn.schema or "https"
        base = conn.host if "://" in conn.host else f"{scheme}://{conn.host}"
        # The port goes after the host, not after a path the host field may carry (/trade-api/v2).
        changes["api_base"] = str(httpx.URL(base).copy_with(port=conn.port)) if conn.port else base
    if conn.login:
        changes["key_id"] = conn.login
    pem = conn.password or conn.extra_dejson.get("private_key")
    if pem:
        changes["private_key_pem"] = pem.encode()
    return replace(settings, **changes)


def fail_fast(func: Callable[P, R]) -> Callable[P, R]:
    """Let Airflow retry only what a retry can fix (timeouts, lost connections, 5xx, 429).

    Anything else, typed or not (a changed page, bad data, a refused statement, a bug), fails the task at
    once with its one-line message; the log keeps the whole chain. Airflow's own exceptions pass as they are.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if is_retryable(exc) or type(exc).__module__.split(".")[0] == "airflow":
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {one_line(exc)}") from exc

    return wrapper
