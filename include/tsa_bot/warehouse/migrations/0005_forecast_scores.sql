-- Every forecast scored once its week is complete, against the first-published numbers Kalshi settles on.

create table forecast_scores (
    forecast_id     bigint primary key references forecasts (id) on delete cascade,
    week_start      date not null,
    actual_mean     double precision not null check (actual_mean > 0),
    abs_pct_error   double precision not null,
    in_80_interval  boolean not null,
    -- Over the strike grid: mean of (p - outcome)^2, and mean of -log(p of what happened), p clipped.
    brier           double precision not null,
    log_loss        double precision not null,
    scored_at       timestamptz not null default now()
);
create index forecast_scores_week on forecast_scores (week_start);
