"""The project's page in the Airflow UI: a FastAPI app with JSON endpoints and a server-rendered page.

Mounted by ``plugins/tsa_bot_ui.py`` under ``/tsa-bot`` in Airflow's api-server; it also runs on its own
(``uvicorn tsa_bot.ui.app:standalone_app``) for anyone without Airflow. It only reads the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tsa_bot.core.errors import TsaBotError
from tsa_bot.ui import queries
from tsa_bot.ui.page import render_page

URL_PREFIX = "/tsa-bot"


def _default_engine() -> sa.Engine:
    from tsa_bot.warehouse.engine import get_engine

    return get_engine()


async def _airflow_read_access(request: Request) -> None:
    """Inside Airflow's api-server: the caller must be logged in and may read the ``tsa_daily`` DAG."""
    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
    from fastapi.security import HTTPBearer

    credentials = await HTTPBearer(auto_error=False)(request)
    user = await get_user(request, None, credentials)
    requires_access_dag("GET", param_dag_id=queries.DAG_ID)(request, user)


def _default_replay_file() -> Path:
    from tsa_bot.replay.commands import latest_replay_file

    return latest_replay_file()


def _no_auth() -> None:
    return None


def create_app(
    *,
    airflow_auth: bool = False,
    engine_factory: Callable[[], sa.Engine] = _default_engine,
    replay_file: Callable[[], Path] = _default_replay_file,
    url_prefix: str = URL_PREFIX,
) -> FastAPI:
    """The app; ``airflow_auth`` checks Airflow's login and DAG permissions on every request."""
    access = Depends(_airflow_read_access if airflow_auth else _no_auth)
    app = FastAPI(
        title="TSA bot",
        description="Forecasts, strike prices, orders and health of the tsa_daily pipeline (read only).",
        dependencies=[access],
        docs_url="/docs",
        redoc_url=None,
    )

    def read(fn: Callable[[sa.Connection], dict[str, Any]]) -> dict[str, Any]:
        try:
            engine = engine_factory()
        except (TsaBotError, sa.exc.SQLAlchemyError) as exc:
            raise HTTPException(503, f"warehouse unavailable: {exc}") from exc
        with engine.connect() as conn:
            return fn(conn)

    def airflow_base(request: Request) -> str:
        # The sub-app's root path is Airflow's own base path plus our prefix: links go to Airflow's UI.
        root = request.scope.get("root_path", "")
        return root.removesuffix(url_prefix) if root.endswith(url_prefix) else root

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        # The page (not the JSON) sends a browser without a session to Airflow's login, then back.
        if exc.status_code == 401 and airflow_auth and "/api/" not in request.url.path:
            from airflow.api_fastapi.app import get_auth_manager

            target = f"{get_auth_manager().get_url_login()}?next={quote(request.url.path)}"
            return RedirectResponse(target, status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.get("/api/this-week")
    def api_this_week() -> dict[str, Any]:
        """Latest forecast: week, known days, quantiles; per strike fair vs bid/ask, edge, position."""
        return read(queries.this_week)

    @app.get("/api/orders")
    def api_orders(runs: int = 5) -> dict[str, Any]:
        """The latest runs' decisions, orders, fills and rejections, each with its reason."""
        return read(lambda conn: queries.orders(conn, runs=max(1, min(runs, 50))))

    @app.get("/api/history")
    def api_history() -> dict[str, Any]:
        """Forecast vs actual, calibration bins, cumulative P&L by mode, Brier by week, revisions."""
        return read(queries.history)

    def market(conn: sa.Connection) -> dict[str, Any]:
        executions = queries.replay_executions(replay_file())
        return {
            "brier_by_day": queries.market_brier(conn),
            "equity": {"replay": queries.replay_equity(replay_file()), "settled": queries.settled_pnl(conn)},
            "executions": executions,
            "maker_minus_taker": queries.maker_minus_taker(executions),
        }

    @app.get("/api/market")
    def api_market() -> dict[str, Any]:
        """Brier model vs market by weekday over settled strikes; equity of the latest replay and by mode;
        the latest replay of each execution (taker, maker) and the maker's P&L minus the taker's."""
        return read(market)

    @app.get("/api/resting")
    def api_resting() -> dict[str, Any]:
        """Our resting orders: age, price, and the latest book of their market."""
        return read(queries.resting)

    @app.get("/api/records")
    def api_records() -> dict[str, Any]:
        """The record ``recorded`` sizes by, per known-days count, as of now."""
        return read(queries.records)

    @app.get("/api/health")
    def api_health() -> dict[str, Any]:
        """Last ingest, newest TSA day, last trading run, risk limits and their use."""
        return read(queries.health)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        """The page: charts as inline SVG and tables, no script, no external resource."""
        base = airflow_base(request)
        try:
            engine = engine_factory()
        except (TsaBotError, sa.exc.SQLAlchemyError) as exc:
            return HTMLResponse(render_page(None, base, error=str(exc)), status_code=503)
        with engine.connect() as conn:
            data = {
                "this_week": queries.this_week(conn),
                "orders": queries.orders(conn, runs=5),
                "history": queries.history(conn),
                "health": queries.health(conn),
                "market": market(conn),
                "resting": queries.resting(conn),
                "records": queries.records(conn),
            }
        return HTMLResponse(render_page(data, base))

    return app


def standalone_app() -> FastAPI:
    """``uvicorn --factory tsa_bot.ui.app:standalone_app``: the page without Airflow (no login)."""
    return create_app(airflow_auth=False)
