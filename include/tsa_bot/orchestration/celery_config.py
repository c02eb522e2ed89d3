"""Celery settings for Airflow's CeleryExecutor: Airflow's own, plus the bot's imports done once per worker.

Airflow runs each task in a process forked from a Celery pool process, and the task first parses its DAG
file. Imported once in the worker (Celery's ``imports``, loaded before the pool forks), pandas, Prophet
and the bot's modules are already there in every task, which then starts in well under a second instead of
several. Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=tsa_bot.orchestration.celery_config.CELERY_CONFIG``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

PRELOADED_MODULES = ("tsa_bot.orchestration.daily", "tsa_bot.forecast.backtest")

CELERY_CONFIG: dict[str, Any] = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_MODULES}
