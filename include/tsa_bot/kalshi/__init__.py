"""Kalshi Trade API v2: signed httpx client, typed models, and a local exchange simulator."""
