"""tsa-kalshi-bot: forecast TSA's weekly checkpoint volume and trade Kalshi's KXTSAW contracts.

The packages, top to bottom (``lint-imports`` enforces the order, see ``pyproject.toml``):

- ``local``: the ``tsabot`` command and the local runner (Airflow, the embedded warehouse, reports);
- ``orchestration``: what the DAG files call (each daily task's function, task defaults, alerts, Celery);
- ``ui``: the page in the Airflow UI;
- the pipeline's steps: ``sources`` (fetch, parse, validate, load, quality gate) → ``warehouse`` →
  ``forecast`` → ``pricing`` → ``trading`` (decide, place, reconcile) → ``settlement``; beside them
  ``quotes`` (Kalshi quote history), ``replay`` (the strategy over that history), ``kalshi`` (the exchange
  client) and ``kalshi_sim`` (a local exchange);
- ``core``: the shared vocabulary every layer speaks (settings, errors, markets and tickers, the TSA
  publication schedule, scores, records).
"""

__version__ = "0.1.0"
