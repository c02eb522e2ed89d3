"""Trading: modes, risk limits, decisions, idempotent placement, persistence and settlement P&L."""
