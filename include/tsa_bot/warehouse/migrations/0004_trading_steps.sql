-- Trading as separate, retryable steps (fetch -> price -> decide -> place -> reconcile): what each step
-- hands to the next lives here, keyed by the run, so that XCom carries only ids and counts.

-- The run's state and the snapshot's own facts, so that a later step rebuilds the snapshot exactly.
alter table trading_runs
    add column status           text not null default 'running'
                                check (status in ('running', 'skipped', 'finished')),
    add column skip_reason      text,
    add column backfill         boolean not null default false,
    add column as_of            timestamptz,
    add column snapshot_taken_at timestamptz,
    add column snapshot_source_run text,      -- a backfill reuses the snapshot of an earlier run
    add column fee_type         text,
    add column fee_multiplier   numeric,
    add column steps            jsonb not null default '{}';  -- {step: its summary} once it completed

-- Runs recorded before this migration ran in one call: they are finished.
update trading_runs set status = 'finished' where finished_at is not null;

-- The order of the event's markets, as the exchange listed them.
alter table trading_snapshots add column seq integer;
create index trading_snapshots_taken on trading_snapshots (taken_at);

-- Expected value has the precision of the fair probability (6 places), not of a price.
alter table trading_decisions alter column ev_per_contract type numeric(12, 6);

-- A retried placement records a rejection once.
delete from trading_rejections a using trading_rejections b
    where a.id > b.id and a.run_id = b.run_id and a.ticker = b.ticker and a.stage = b.stage
      and a.code = b.code;
create unique index trading_rejections_once on trading_rejections (run_id, ticker, stage, code);

create table trading_quotes (
    id              bigserial primary key,
    run_id          text not null references trading_runs (run_id),
    event_ticker    text not null,
    ticker          text not null,
    strike          integer not null,
    fair_yes        numeric(10, 6),              -- after the monotone fix
    raw_fair_yes    double precision,            -- as the forecaster gave it
    yes_bid         numeric(10, 4),
    yes_ask         numeric(10, 4),
    no_bid          numeric(10, 4),
    no_ask          numeric(10, 4),
    yes_ask_size    numeric(12, 2) not null,
    no_ask_size     numeric(12, 2) not null,
    fee_yes         numeric(10, 4),              -- taker fee per contract at the ask
    fee_no          numeric(10, 4),
    ev_yes          numeric(12, 6),              -- per contract, after the fee
    ev_no           numeric(12, 6),
    crossed         boolean not null default false,
    note            text not null default '',
    created_at      timestamptz not null default now(),
    unique (run_id, ticker)
);

-- Positions as the run left them (the exchange's figures in demo/live, the paper book's in paper).
create table trading_positions (
    id              bigserial primary key,
    run_id          text not null references trading_runs (run_id),
    mode            text not null,
    event_ticker    text not null,
    ticker          text not null,
    position        numeric(12, 2) not null,     -- + YES, - NO
    exposure        numeric(14, 4) not null,
    fees            numeric(14, 4) not null,
    recorded_at     timestamptz not null default now(),
    unique (run_id, ticker)
);
