-- Maker execution (post-only orders resting at the bid). Each decision and each order says its liquidity
-- (taker: buy at the offer now; maker: rest at the bid). A resting order carries when it expires (a margin
-- before the market's close), and an order that replaced an earlier run's resting order by an amend names
-- it; the replaced row is marked 'amended'. Earlier rows are takers, as every order was before this.
alter table trading_decisions
    add column liquidity text not null default 'taker' check (liquidity in ('taker', 'maker'));
alter table trading_orders
    add column liquidity  text not null default 'taker' check (liquidity in ('taker', 'maker')),
    add column expires_at timestamptz,
    add column amends     text;
