"""Kalshi Trade API v2, the adapter the bot trades through.

- ``hosts.py``: which environment a base URL reaches (production, demo, a simulator), which trading modes
  may use which, and the settings read from the environment;
- ``factories.py``: the client of a trading mode, and the guards on it (paper read-only, live opted in);
- ``client.py``: the signed, retrying httpx client; ``models.py``: the typed answers; ``auth.py``: signing.

The local exchange simulator is ``tsa_bot.kalshi_sim``.
"""
