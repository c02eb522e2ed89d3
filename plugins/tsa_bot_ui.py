"""Airflow plugin: the TSA bot's page in the Airflow 3 UI (``/tsa-bot``), linked from the navigation.

Thin on purpose: the app, its queries and the page live in ``tsa_bot.ui``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tsa_bot.ui.app import URL_PREFIX, create_app


class TsaBotUiPlugin(AirflowPlugin):
    """Mounts the read-only FastAPI app in the api-server and adds "TSA bot" to the UI's navigation."""

    name = "tsa_bot_ui"
    fastapi_apps = [  # noqa: RUF012 - Airflow's plugin interface is class attributes
        {"app": create_app(airflow_auth=True), "url_prefix": URL_PREFIX, "name": "TSA bot"}
    ]
    # Shown inside the Airflow UI (an iframe at /plugin/tsa-bot) from a top-level navigation entry.
    external_views = [  # noqa: RUF012
        {
            "name": "TSA bot",
            "href": f"{URL_PREFIX}/",
            "url_route": "tsa-bot",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
