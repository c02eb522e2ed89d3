-- The quote history gains what real quotes need read honestly: each candle's traded price range (the
-- interchange format's optional price_low, price_high; null when nothing traded, and for the runs' own
-- snapshots) and its market's close time from Kalshi (null for imported markets: readers then apply the
-- series' rule). Columns are only added at the end, so every earlier reader keeps working.
create or replace view quote_history as
select m.event_ticker, c.ticker, m.floor_strike, c.end_ts, c.period_minutes,
       c.yes_bid_close as yes_bid, c.yes_ask_close as yes_ask, c.price_close as last_price,
       c.volume, c.open_interest,
       case when m.result in ('yes', 'no') then m.result else '' end as result,
       c.source,
       c.price_low, c.price_high, m.close_time
from quote_candles c
join quote_markets m on m.ticker = c.ticker
union all
(
    select distinct on (s.ticker, s.taken_at)
           r.event_ticker, s.ticker, s.strike::bigint, s.taken_at, null::integer,
           s.yes_bid, s.yes_ask, null::numeric, null::numeric, null::numeric,
           case when m.result in ('yes', 'no') then m.result else '' end,
           'snapshot',
           null::numeric, null::numeric, m.close_time
    from trading_snapshots s
    join trading_runs r on r.run_id = s.run_id
    left join quote_markets m on m.ticker = s.ticker
    order by s.ticker, s.taken_at, s.run_id
);

-- Scores written before this scored the market on one-sided books too (a 0.97 bid with no offer as a 0.985
-- mid). They are derived data: dropped here, the next `tsabot kalshi history --score` or tsa_market_history
-- run scores those weeks again on two-sided books only (the forecasts come from the forecast cache).
delete from quote_score_weeks;
