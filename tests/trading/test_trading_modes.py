"""demo can never reach the production host; paper reads it only through a client that can only GET;
live needs both opt-ins."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from trading_testkit import KEY_ID, trade

from tsa_bot.core.errors import ConfigurationError
from tsa_bot.kalshi.client import KalshiClient, ReadOnlyClientError
from tsa_bot.kalshi.errors import ProductionHostRefused
from tsa_bot.kalshi.factories import client_for_mode
from tsa_bot.kalshi.hosts import (
    MODE_ENVIRONMENTS,
    Environment,
    KalshiSettings,
    check_mode_host,
    environment_of,
    is_demo_host,
    is_production_host,
)
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.trading.config import LIMIT_AMOUNTS, RiskLimits, TradingConfig, TradingMode

PROD = "https://external-api.kalshi.com/trade-api/v2"
PROD_ALIASES = [
    PROD,
    "https://api.elections.kalshi.com/trade-api/v2",
    "https://External-API.Kalshi.com./trade-api/v2",
]
DEMO = "https://demo-api.kalshi.co/trade-api/v2"


@pytest.mark.parametrize("url", PROD_ALIASES)
def test_demo_refuses_production_even_with_every_opt_in(url):
    settings = KalshiSettings(api_base=url, allow_production=True)
    config = TradingConfig(mode=TradingMode.DEMO, live_enabled=True)
    with pytest.raises(ConfigurationError, match="never contact the production host"):
        client_for_mode(config, {"live": True}, settings)


@pytest.mark.parametrize("url", PROD_ALIASES)
def test_paper_reads_production_only_through_a_read_only_client(url):
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    settings = KalshiSettings(api_base=url)
    with client_for_mode(TradingConfig(mode=TradingMode.PAPER), {}, settings, transport=transport) as client:
        assert client.read_only and client.allow_production
        with pytest.raises(ReadOnlyClientError, match="read-only"):
            client.create_order(
                OrderRequest("KXTSAW-26FEB15-A2.30", "coid", "bid", Decimal(1), Decimal("0.5"))
            )
        with pytest.raises(ReadOnlyClientError, match="read-only"):
            client.cancel_order("some-order")
    assert sent == []  # refused before anything left the process


def test_production_host_classification():
    for url in PROD_ALIASES:
        assert is_production_host(url) and not is_demo_host(url)
    for url in (DEMO, "https://external-api.demo.kalshi.co/trade-api/v2"):
        assert is_demo_host(url) and not is_production_host(url)
    for url in (
        "https://kalshi.com.example.org/trade-api/v2",
        "https://notkalshi.com/trade-api/v2",
        "http://127.0.0.1:8765/trade-api/v2",
    ):
        assert not is_production_host(url)
    check_mode_host(TradingMode.PAPER, PROD)  # paper may read production
    check_mode_host(TradingMode.LIVE, PROD)
    for mode in (TradingMode.PAPER, TradingMode.DEMO):
        with pytest.raises(ConfigurationError, match="demo host or a local simulator"):
            check_mode_host(mode, "https://kalshi.com.example.org/trade-api/v2")


ONE_URL_PER_ENVIRONMENT = {
    Environment.PRODUCTION: PROD,
    Environment.DEMO: DEMO,
    Environment.SIMULATOR: "http://localhost:8765/trade-api/v2",
}


@pytest.mark.parametrize("mode", list(TradingMode))
def test_each_mode_may_use_exactly_its_environments(mode):
    """Paper: all three (read-only); demo: demo and a simulator; live: production only."""
    expected = {
        TradingMode.PAPER: set(Environment),
        TradingMode.DEMO: {Environment.DEMO, Environment.SIMULATOR},
        TradingMode.LIVE: {Environment.PRODUCTION},
    }[mode]
    assert MODE_ENVIRONMENTS[mode] == expected
    for environment, url in ONE_URL_PER_ENVIRONMENT.items():
        assert environment_of(url) is environment
        if environment in expected:
            assert check_mode_host(mode, url) is environment
        else:
            with pytest.raises(ConfigurationError):
                check_mode_host(mode, url)


@pytest.mark.parametrize("mode", [TradingMode.PAPER, TradingMode.DEMO])
def test_paper_and_demo_clients_are_built_without_production_access(mode):
    client = client_for_mode(TradingConfig(mode=mode), {}, KalshiSettings(api_base=DEMO))
    with client:
        assert client.allow_production is False
    local = client_for_mode(
        TradingConfig(mode=mode), {}, KalshiSettings(api_base="http://127.0.0.1:8123/trade-api/v2")
    )
    local.close()
    with pytest.raises(ConfigurationError, match="demo host or a local simulator"):
        client_for_mode(TradingConfig(mode=mode), {}, KalshiSettings(api_base="https://kalshi.example.org/x"))


def test_a_client_not_opted_in_refuses_production_before_any_request():
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={}))
    with pytest.raises(ProductionHostRefused):
        KalshiClient(PROD, transport=transport)
    assert sent == []


def test_a_paper_run_refuses_a_client_that_could_reach_production(warehouse_engine):
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    client = KalshiClient(PROD, allow_production=True, transport=transport)
    for mode in (TradingMode.PAPER, TradingMode.DEMO):
        with pytest.raises(ConfigurationError, match="production"):
            trade(
                "r",
                "KXTSAW-26FEB15",
                {2_300_000: 0.5},
                engine=warehouse_engine,
                client=client,
                config=TradingConfig(mode=mode),
            )
    assert sent == []


def test_live_needs_the_configuration_and_the_run_params():
    settings = KalshiSettings(api_base=PROD)
    refused = [
        (TradingConfig(mode=TradingMode.LIVE, live_enabled=False), {"live": True}),
        (TradingConfig(mode=TradingMode.LIVE, live_enabled=True), {}),
        (TradingConfig(mode=TradingMode.LIVE, live_enabled=True), {"live": "yes"}),  # exactly True only
    ]
    for config, params in refused:
        with pytest.raises(ConfigurationError, match="live trading needs"):
            client_for_mode(config, params, settings)
    client = client_for_mode(
        TradingConfig(mode=TradingMode.LIVE, live_enabled=True), {"live": True}, settings
    )
    with client:
        assert client.allow_production is True
    with pytest.raises(ConfigurationError, match="production only"):
        check_mode_host(TradingMode.LIVE, DEMO)


def test_trading_config_from_env():
    config = TradingConfig.from_env(
        {"TSABOT_TRADING_MODE": "demo", "TSABOT_KILL_SWITCH": "1", "TSABOT_MAX_DAILY_LOSS": "25"}
    )
    assert (
        config.mode is TradingMode.DEMO and config.limits.kill_switch and config.limits.max_daily_loss == 25
    )
    assert (
        TradingConfig.from_env({}).mode is TradingMode.PAPER and not TradingConfig.from_env({}).live_enabled
    )
    with pytest.raises(ConfigurationError, match="paper, demo or live"):
        TradingConfig.from_env({"TSABOT_TRADING_MODE": "yolo"})


@pytest.mark.parametrize("value", ["fifty", "-5", "NaN", "Infinity"])
def test_a_bad_limit_in_the_environment_is_refused_by_name(value):
    with pytest.raises(ConfigurationError, match=f"TSABOT_MAX_ORDER_COST must be a number.*{value}"):
        TradingConfig.from_env({"TSABOT_MAX_ORDER_COST": value})


def test_every_limit_is_read_from_its_environment_variable():
    env = {f"TSABOT_{name.upper()}": str(7 + i) for i, name in enumerate(LIMIT_AMOUNTS)}
    limits = TradingConfig.from_env(env).limits
    assert len(LIMIT_AMOUNTS) == 6 and all(
        getattr(limits, name) == Decimal(7 + i) for i, name in enumerate(LIMIT_AMOUNTS)
    )
    assert TradingConfig.from_env({"TSABOT_MAX_DAILY_LOSS": " "}).limits == RiskLimits()  # blank: default


class ToLoopback(httpx.BaseTransport):
    """Delivers requests addressed to any host to the local simulator, over real HTTP, and logs them."""

    def __init__(self, root_url: str):
        self.target = httpx.URL(root_url)
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url)))
        request.url = request.url.copy_with(scheme="http", host=self.target.host, port=self.target.port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_read_only_client_reads_but_sends_no_order_to_a_real_server(sim, rsa_key):
    with KalshiClient(sim.base_url, KEY_ID, private_key=rsa_key, read_only=True) as client:
        assert client.exchange_status().trading_active
        assert len(client.event("KXTSAW-26FEB15").markets) == 21
        assert client.balance().balance_dollars == 1000  # signed GETs are reads too
        with pytest.raises(ReadOnlyClientError):
            client.create_order(
                OrderRequest("KXTSAW-26FEB15-A2.30", "ro-1", "bid", Decimal(1), Decimal("0.60"))
            )
        with pytest.raises(ReadOnlyClientError):
            client.cancel_if_resting("any")
    assert sim.requests and {m for m, _ in sim.requests} == {"GET"}
    assert sim.exchange.accounts[KEY_ID].orders == []


def test_a_paper_run_on_the_production_host_reads_real_data_and_sends_no_order(warehouse_engine, sim):
    from tsa_bot.trading import steps
    from tsa_bot.trading.run import TradingRun

    transport = ToLoopback(sim.root_url)
    config = TradingConfig(mode=TradingMode.PAPER)
    with client_for_mode(config, {}, KalshiSettings(api_base=PROD), transport=transport) as client:
        assert is_production_host(client.base_url) and client.read_only
        probs = {2_200_000 + 50_000 * i: 0.98 - 0.045 * i for i in range(21)}  # far from the seeded mids
        summary = trade(
            "paper-prod", "KXTSAW-26FEB15", probs, engine=warehouse_engine, client=client, config=config
        )
        assert summary["orders"] > 0  # filled in the local paper book...
        # ...and a retry of the whole run is refused nothing and sends nothing either
        steps.place_step(TradingRun.load(warehouse_engine, "paper-prod", config), client=client)
    assert transport.seen and all(url.startswith(PROD) for _, url in transport.seen)
    assert {m for m, _ in transport.seen} == {"GET"} and {m for m, _ in sim.requests} == {"GET"}
    assert all(a.orders == [] for a in sim.exchange.accounts.values())


def test_trading_config_from_params_overlays_the_environment():
    env = {"TSABOT_TRADING_MODE": "demo", "TSABOT_MAX_ORDER_COST": "40", "TSABOT_KILL_SWITCH": "0"}
    params = {
        "mode": "paper",
        "kelly_fraction": 0.1,
        "min_edge": "0.03",
        "max_order_contracts": 7,
        "max_order_cost": None,  # null keeps the environment's value
        "max_daily_loss": 12.5,
        "kill_switch": "true",
    }
    config = TradingConfig.from_params(params, env)
    assert config.mode is TradingMode.PAPER and not config.backfill
    assert config.kelly_fraction == Decimal("0.1") and config.min_edge == Decimal("0.03")
    assert config.limits.max_order_contracts == 7 and config.limits.max_order_cost == 40
    assert config.limits.max_daily_loss == Decimal("12.5") and config.limits.kill_switch
    assert TradingConfig.from_params({}, env).mode is TradingMode.DEMO
    # A kill switch in the environment stays on whatever the params say.
    assert TradingConfig.from_params({"kill_switch": False}, {"TSABOT_KILL_SWITCH": "1"}).limits.kill_switch
    backfill = TradingConfig.from_params({"mode": "live", "live": True, "backfill": True}, env)
    assert backfill.mode is TradingMode.PAPER and backfill.backfill
    with pytest.raises(ConfigurationError, match="backfill run contacts no exchange"):
        client_for_mode(backfill, {}, KalshiSettings(api_base=DEMO))
    for bad in (
        {"mode": "yolo"},
        {"min_edge": "abc"},
        {"max_order_cost": -1},
        {"kelly_fraction": 2},
        {"max_total_exposure": "NaN"},
        {"max_order_contracts": True},
        {"kill_switch": "maybe"},
    ):
        with pytest.raises(ConfigurationError, match="param"):
            TradingConfig.from_params(bad, {})
