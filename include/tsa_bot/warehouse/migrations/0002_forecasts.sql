-- Weekly-mean forecasts and their strike probabilities. One row per (run, week, as_of, model version):
-- a retried or re-run task finds its row again instead of adding a second one.

create table forecasts (
    id              bigserial primary key,
    -- Airflow's run id + task, or a CLI invocation id.
    run_key         text not null,
    week_start      date not null check (extract(isodow from week_start) = 1),
    as_of           date not null,
    known_days      smallint not null check (known_days between 0 and 6),
    model_version   text not null,
    created_at      timestamptz not null default now(),
    mean            double precision not null check (mean > 0),
    -- {"0.01": value, ..., "0.99": value}: the quantiles of the weekly mean.
    quantiles       jsonb not null,
    -- The full sample of the weekly mean the quantiles and probabilities were computed from, ascending.
    samples         double precision[] not null,
    constraint forecasts_as_of_matches check (as_of = week_start + known_days),
    constraint forecasts_run_week_unique unique (run_key, week_start, as_of, model_version)
);
create index forecasts_week_start on forecasts (week_start, as_of);

create table forecast_strike_probs (
    forecast_id     bigint not null references forecasts (id) on delete cascade,
    strike          integer not null,
    -- P(weekly mean > strike), strictly greater, as Kalshi settles "above" contracts.
    prob_above      double precision not null check (prob_above between 0 and 1),
    primary key (forecast_id, strike)
);
