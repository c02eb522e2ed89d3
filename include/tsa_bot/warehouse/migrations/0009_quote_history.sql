-- Quote history: Kalshi events, markets and candlesticks (from the live and the archived endpoints, or
-- imported from the quote interchange CSV), what each download has fetched so an interrupted one resumes,
-- and one view that adds the live runs' own order-book snapshots to the candles. Prices are dollars.

create table quote_events (
    event_ticker    text primary key,
    series_ticker   text not null,
    title           text not null default '',
    strike_date     timestamptz,
    updated_at      timestamptz not null default now()
);

create table quote_markets (
    ticker          text primary key,
    event_ticker    text not null references quote_events (event_ticker),
    floor_strike    bigint,
    strike_type     text not null default '',
    status          text not null default '',
    result          text not null default '' check (result in ('', 'yes', 'no', 'scalar')),
    expiration_value text not null default '',
    open_time       timestamptz,
    close_time      timestamptz,
    archived        boolean not null default false,  -- listed by /historical/markets: its candles are there
    source          text not null check (source in ('kalshi', 'import')),
    updated_at      timestamptz not null default now()
);
create index quote_markets_event on quote_markets (event_ticker);
create index quote_markets_close on quote_markets (close_time);

create table quote_candles (
    ticker          text not null references quote_markets (ticker),
    period_minutes  integer not null check (period_minutes in (1, 60, 1440)),
    end_ts          timestamptz not null,            -- the candle's inclusive end
    yes_bid_open    numeric(12, 6),
    yes_bid_high    numeric(12, 6),
    yes_bid_low     numeric(12, 6),
    yes_bid_close   numeric(12, 6),
    yes_ask_open    numeric(12, 6),
    yes_ask_high    numeric(12, 6),
    yes_ask_low     numeric(12, 6),
    yes_ask_close   numeric(12, 6),
    price_open      numeric(12, 6),                  -- traded prices; null when nothing traded
    price_high      numeric(12, 6),
    price_low       numeric(12, 6),
    price_close     numeric(12, 6),
    price_mean      numeric(12, 6),
    price_previous  numeric(12, 6),
    volume          numeric(16, 2),
    open_interest   numeric(16, 2),
    source          text not null check (source in ('kalshi', 'import')),
    primary key (ticker, period_minutes, end_ts)
);
create index quote_candles_end on quote_candles (end_ts);

-- One row per market and candle period a download has asked for. Candles and this row are written in
-- one transaction, so whatever it says was fetched is in quote_candles.
create table quote_downloads (
    ticker          text not null references quote_markets (ticker),
    period_minutes  integer not null check (period_minutes in (1, 60, 1440)),
    fetched_through timestamptz,                     -- the end of the last candle received
    complete        boolean not null default false,  -- fetched up to the market's close: not asked again
    requests        integer not null default 0,
    updated_at      timestamptz not null default now(),
    primary key (ticker, period_minutes)
);

-- Every quote on record, in the interchange format's terms: the candles (period_minutes set) and the
-- trading runs' snapshots (period_minutes null, one per market and moment however many runs share it).
create view quote_history as
select m.event_ticker, c.ticker, m.floor_strike, c.end_ts, c.period_minutes,
       c.yes_bid_close as yes_bid, c.yes_ask_close as yes_ask, c.price_close as last_price,
       c.volume, c.open_interest,
       case when m.result in ('yes', 'no') then m.result else '' end as result,
       c.source
from quote_candles c
join quote_markets m on m.ticker = c.ticker
union all
(
    select distinct on (s.ticker, s.taken_at)
           r.event_ticker, s.ticker, s.strike::bigint, s.taken_at, null::integer,
           s.yes_bid, s.yes_ask, null::numeric, null::numeric, null::numeric,
           case when m.result in ('yes', 'no') then m.result else '' end,
           'snapshot'
    from trading_snapshots s
    join trading_runs r on r.run_id = s.run_id
    left join quote_markets m on m.ticker = s.ticker
    order by s.ticker, s.taken_at, s.run_id
);
