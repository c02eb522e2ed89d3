import sqlalchemy as sa

from tsa_bot.warehouse.migrate import available_migrations, migrate


def test_migrations_apply_once_and_record_versions(empty_database_url):
    engine = sa.create_engine(empty_database_url)
    first = migrate(engine)
    second = migrate(engine)
    assert first == [m.version for m in available_migrations()]
    assert second == []
    with engine.connect() as conn:
        versions = conn.execute(sa.text("select version from schema_migrations order by 1")).scalars().all()
        tables = set(
            conn.execute(sa.text("select tablename from pg_tables where schemaname = 'public'")).scalars()
        )
    engine.dispose()
    assert versions == first
    assert {"tsa_daily", "tsa_revisions", "ingest_runs", "tsa_raw_pages"} <= tables
