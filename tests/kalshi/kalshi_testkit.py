"""Constants shared by the Kalshi client tests (a plain module: conftest names are not importable)."""

from __future__ import annotations

from tsa_bot.kalshi.client import RetryPolicy

KEY_ID = "0f6c1e8a-6a8f-4d8e-9a51-3f1f6d1c2b10"
FAST_RETRY = RetryPolicy(attempts=6, backoff_s=0.005, max_backoff_s=0.02, budget_s=5.0)
