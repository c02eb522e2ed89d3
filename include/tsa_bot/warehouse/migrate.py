"""Versioned schema migrations: ``migrations/NNNN_name.sql`` files, applied once each, in order.

Each file runs in its own transaction together with its row in ``schema_migrations``, so a failed
migration leaves no half-applied schema. An advisory lock keeps concurrent tasks from racing. A warehouse
that is up to date is only read, so a read-only role can still use it; a failure is a typed one-line error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tsa_bot.warehouse.engine import warehouse_errors

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_310_042  # any constant; shared by every process migrating this warehouse


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 0001_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"two migrations share a version number in {directory}")
    return found


def pending_migrations(engine: sa.Engine, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations not yet applied, found by reading only."""
    available = available_migrations(directory)
    with warehouse_errors("reading the schema version"), engine.connect() as conn:
        if conn.execute(sa.text("select to_regclass('schema_migrations')")).scalar() is None:
            return available
        done = set(conn.execute(sa.text("select version from schema_migrations")).scalars())
    return [m for m in available if m.version not in done]


def migrate(engine: sa.Engine, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the migrations not yet applied; return the versions applied now."""
    pending = pending_migrations(engine, directory)
    if not pending:
        return []
    applied_now: list[int] = []
    with warehouse_errors("creating schema_migrations"), engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        conn.execute(
            sa.text(
                "create table if not exists schema_migrations ("
                " version integer primary key, name text not null,"
                " applied_at timestamptz not null default now())"
            )
        )
    for migration in pending:
        doing = f"applying migration {migration.path.name} (rolled back; none of it was applied)"
        with warehouse_errors(doing), engine.begin() as conn:
            conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            done = conn.execute(
                sa.text("select 1 from schema_migrations where version = :v"), {"v": migration.version}
            ).first()
            if done:
                continue
            conn.exec_driver_sql(migration.path.read_text())
            conn.execute(
                sa.text("insert into schema_migrations (version, name) values (:v, :n)"),
                {"v": migration.version, "n": migration.name},
            )
            applied_now.append(migration.version)
    return applied_now
