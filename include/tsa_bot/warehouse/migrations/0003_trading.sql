-- Trading: every run, market snapshot, decision, order, fill, rejection and settled position, with
-- the reason and the numbers behind it. Money is numeric (dollars, 4 decimals); counts have 2.

create table trading_runs (
    run_id          text primary key,            -- Airflow's run id, or cli:<uuid>
    mode            text not null check (mode in ('paper', 'demo', 'live')),
    event_ticker    text not null,
    api_host        text not null,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    params          jsonb not null default '{}',
    summary         jsonb
);

create table trading_snapshots (
    id              bigserial primary key,
    run_id          text not null references trading_runs (run_id),
    ticker          text not null,
    strike          integer not null,
    yes_bid         numeric(10, 4),
    yes_ask         numeric(10, 4),
    no_bid          numeric(10, 4),
    no_ask          numeric(10, 4),
    book            jsonb not null,              -- {"yes": [[price, count], ...], "no": [...]}, best first
    taken_at        timestamptz not null default now(),
    unique (run_id, ticker)
);

create table trading_decisions (
    id              bigserial primary key,
    run_id          text not null references trading_runs (run_id),
    event_ticker    text not null,
    ticker          text not null,
    strike          integer not null,
    fair_yes        numeric(10, 6),              -- after the monotone fix
    raw_fair_yes    double precision,            -- as the forecaster gave it
    action          text not null check (action in ('buy_yes', 'buy_no', 'none')),
    count           numeric(12, 2) not null default 0,
    limit_price     numeric(10, 4),              -- the price of the side bought (YES or NO)
    fee_per_contract numeric(10, 4),
    ev_per_contract numeric(10, 4),
    kelly_contracts numeric(12, 2),
    client_order_id text,
    reason          text not null,
    created_at      timestamptz not null default now(),
    unique (run_id, ticker)
);

create table trading_orders (
    id              bigserial primary key,
    run_id          text not null references trading_runs (run_id),
    decision_id     bigint references trading_decisions (id),
    mode            text not null,
    client_order_id text not null unique,
    order_id        text,
    event_ticker    text not null,
    ticker          text not null,
    direction       text not null check (direction in ('yes', 'no')),
    book_side       text not null check (book_side in ('bid', 'ask')),
    yes_price       numeric(10, 4) not null,     -- the V2 order price, on the YES book
    count           numeric(12, 2) not null,
    filled_count    numeric(12, 2) not null default 0,
    status          text not null,               -- resting | executed | canceled
    already_existed boolean not null default false,
    status_reason   text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index trading_orders_event on trading_orders (event_ticker, mode);

create table trading_fills (
    id              bigserial primary key,
    fill_id         text not null unique,
    mode            text not null,
    order_id        text not null,
    client_order_id text,
    event_ticker    text not null,
    ticker          text not null,
    book_side       text not null check (book_side in ('bid', 'ask')),
    count           numeric(12, 2) not null,
    yes_price       numeric(10, 4) not null,
    fee             numeric(12, 4) not null,
    is_taker        boolean not null,
    filled_at       timestamptz not null
);
create index trading_fills_event on trading_fills (event_ticker, mode);

create table trading_rejections (
    id              bigserial primary key,
    run_id          text not null references trading_runs (run_id),
    decision_id     bigint references trading_decisions (id),
    ticker          text not null,
    stage           text not null check (stage in ('risk', 'exchange')),
    code            text not null,
    reason          text not null,
    numbers         jsonb not null default '{}',
    created_at      timestamptz not null default now()
);

create table trading_settlements (
    id              bigserial primary key,
    mode            text not null,
    event_ticker    text not null,
    ticker          text not null,
    result          text not null check (result in ('yes', 'no')),
    expiration_value text,
    net_position    numeric(12, 2) not null,     -- + YES, - NO, before settlement
    gross_cost      numeric(14, 4) not null,     -- what every fill cost, before fees
    fees            numeric(14, 4) not null,
    payout          numeric(14, 4) not null,     -- what the net position paid at settlement
    pnl             numeric(14, 4) not null,     -- net of fees
    exchange_revenue numeric(14, 4),             -- the exchange's own figure, when it reports one
    settled_at      timestamptz not null default now(),
    unique (mode, ticker)
);
