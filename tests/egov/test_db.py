"""The database: SQLite in WAL with foreign keys, PostgreSQL by URL, and migrations that match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import egov.models  # noqa: F401 - the whole schema
from egov.db import Base, Database


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with database.transaction() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    database.dispose()


def test_migrations_produce_exactly_the_models_schema(database_url):
    database = Database(database_url)
    database.upgrade()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert differences == []


def test_upgrade_is_repeatable_and_keeps_data(database_url):
    database = Database(database_url)
    database.upgrade()
    with database.transaction() as session:
        session.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (7, 1, 'x')"))
    database.upgrade()
    with database.transaction() as session:
        assert session.execute(text("SELECT hash FROM audit_head WHERE id = 7")).scalar_one() == "x"
    database.dispose()
