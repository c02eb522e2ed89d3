-- Scored moments of the quote history (tsa_bot.replay.scores): at each daily trading moment of a settled
-- week (the replay's moments: the first candle ending at or after 09:30 New York), the model's
-- point-in-time P(YES) per strike and the market's implied P(YES) from that candle (monotone mids). What
-- blend and guarded learn the market's weight from, beside the trading runs' own quotes. Outcomes are not
-- stored: a reader settles them from the first-published TSA numbers it knew by its own moment.

-- One row per week (event) scored, for each candle period and model version: written with the week's
-- moments in one transaction, so a week listed here is whole, and is not scored again.
create table quote_score_weeks (
    event_ticker      text not null references quote_events (event_ticker),
    period_minutes    integer not null check (period_minutes in (1, 60, 1440)),
    model_version     text not null,
    calibration_weeks integer not null check (calibration_weeks > 0),
    moments           integer not null check (moments > 0),
    scored_at         timestamptz not null default now(),
    primary key (event_ticker, period_minutes, model_version)
);

create table quote_scores (
    event_ticker    text not null,
    period_minutes  integer not null,
    model_version   text not null,
    moment          timestamptz not null,          -- the end of the candle the market's side came from
    strike          bigint not null,
    model_yes       double precision not null check (model_yes between 0 and 1),   -- after the monotone fix
    market_yes      double precision not null check (market_yes between 0 and 1),  -- implied, monotone
    primary key (event_ticker, period_minutes, model_version, moment, strike),
    foreign key (event_ticker, period_minutes, model_version)
        references quote_score_weeks (event_ticker, period_minutes, model_version) on delete cascade
);
create index quote_scores_moment on quote_scores (moment);
