"""paper and demo can never reach the production host; live needs both opt-ins."""

from __future__ import annotations

import httpx
import pytest

from tsa_bot.errors import ConfigurationError
from tsa_bot.kalshi.client import KalshiClient, KalshiSettings
from tsa_bot.kalshi.errors import ProductionHostRefused
from tsa_bot.trading.config import TradingConfig, TradingMode, check_mode_host, client_for_mode
from tsa_bot.trading.run import run_trading

PROD = "https://external-api.kalshi.com/trade-api/v2"
PROD_ALIASES = [
    PROD,
    "https://api.elections.kalshi.com/trade-api/v2",
    "https://External-API.Kalshi.com./trade-api/v2",
]
DEMO = "https://demo-api.kalshi.co/trade-api/v2"


@pytest.mark.parametrize("mode", [TradingMode.PAPER, TradingMode.DEMO])
@pytest.mark.parametrize("url", PROD_ALIASES)
def test_paper_and_demo_refuse_production_even_with_every_opt_in(mode, url):
    settings = KalshiSettings(api_base=url, allow_production=True)
    config = TradingConfig(mode=mode, live_enabled=True)
    with pytest.raises(ConfigurationError, match="never contact the production host"):
        client_for_mode(config, {"live": True}, settings)


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
            run_trading(
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
