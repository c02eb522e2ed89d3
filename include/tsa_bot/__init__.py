"""tsa-kalshi-bot: forecast TSA's weekly checkpoint volume and trade Kalshi's KXTSAW contracts."""

__version__ = "0.1.0"
