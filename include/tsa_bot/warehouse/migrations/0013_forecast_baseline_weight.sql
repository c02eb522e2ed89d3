-- The YoY baseline's share of a pooled forecast (TSABOT_FORECAST_POOL: Prophet pooled with the baseline at
-- a weight learned per known-days count, forecast.pool); null for a forecast of Prophet alone. The page
-- shows, per count, the weights of the pool the bot trades on, read from each count's latest forecast.
alter table forecasts
    add column baseline_weight double precision
        check (baseline_weight is null or (baseline_weight >= 0 and baseline_weight <= 1));
