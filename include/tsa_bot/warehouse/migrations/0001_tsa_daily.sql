-- TSA daily checkpoint numbers with their vintages, the revisions TSA makes, and a log of ingests.

create table ingest_runs (
    id              bigserial primary key,
    -- Airflow's run id + task, or a CLI invocation id: a retry of the same run updates its row.
    run_key         text not null unique,
    started_at      timestamptz not null,
    finished_at     timestamptz,
    pages           text[] not null default '{}',
    rows_seen       integer not null default 0,
    rows_new        integer not null default 0,
    rows_revised    integer not null default 0,
    rows_unchanged  integer not null default 0,
    newest_date     date,
    missing_dates   date[] not null default '{}'
);

-- Raw pages as fetched, so a parse can be replayed and nothing scraped is lost.
create table tsa_raw_pages (
    id          bigserial primary key,
    url         text not null,
    fetched_at  timestamptz not null,
    sha256      text not null,
    html        text not null
);
create index tsa_raw_pages_sha256 on tsa_raw_pages (sha256);

create table tsa_daily (
    day                 date primary key,
    -- Kalshi settles on the number as first published; TSA revises its archive later.
    first_value         integer not null check (first_value > 0),
    first_seen          timestamptz not null,
    first_ingest_run_id bigint not null references ingest_runs (id),
    latest_value        integer not null check (latest_value > 0),
    last_seen           timestamptz not null,
    last_ingest_run_id  bigint not null references ingest_runs (id),
    revision_count      integer not null default 0
);

create table tsa_revisions (
    id              bigserial primary key,
    day             date not null references tsa_daily (day),
    previous_value  integer not null,
    new_value       integer not null,
    seen_at         timestamptz not null,
    ingest_run_id   bigint not null references ingest_runs (id)
);
create index tsa_revisions_day on tsa_revisions (day);
