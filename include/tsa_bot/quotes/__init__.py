"""Kalshi quote history: download KXTSAW events, markets and candlesticks into the warehouse, and read or
write them in the quote interchange CSV.

``download`` talks to Kalshi, ``store`` to the warehouse, ``interchange`` to CSV files; ``pacing`` keeps the
client under the read rate limit; ``tasks`` holds what the Airflow DAG calls; ``commands`` the CLI.
"""
