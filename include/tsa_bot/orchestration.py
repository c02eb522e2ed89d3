"""The little the DAG files need from Airflow's task context, kept out of the DAG files themselves."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from tsa_bot.errors import TsaBotError

P = ParamSpec("P")
R = TypeVar("R")


def run_key(context: Mapping[str, Any]) -> str:
    """Identifies this DAG run in the warehouse, so a retried task updates rows instead of adding them.

    Built from the run id, which exists even for manual runs with no logical date.
    """
    return f"{context['dag'].dag_id}/{context['run_id']}"


def fail_fast(func: Callable[P, R]) -> Callable[P, R]:
    """Let Airflow retry only what a retry can fix: a changed page or bad data fails the task at once."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TsaBotError as exc:
            if exc.retryable:
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return wrapper
