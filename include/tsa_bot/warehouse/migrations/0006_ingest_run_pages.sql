-- Which raw pages a load read: a retried load of the same pages is a no-op, a load of newly fetched
-- pages under the same run (a later retry that re-scraped) is a real load.
alter table ingest_runs add column raw_page_ids bigint[] not null default '{}';
