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


def test_upgrading_an_existing_installation_keeps_its_certificates_and_audit_trail(database_url, settings_env):
    """A database made by an earlier release (schema 0002: CA and status services, before remote signing) is
    upgraded to head in place: every certificate and audit record survives unchanged, the chain still verifies,
    and the CA goes on issuing on the upgraded schema."""
    from alembic import command
    from sqlalchemy import select

    from ca.authority import CertificateAuthority, IssuanceRequest
    from ca.models import CertificateRecord
    from ca.names import PersonSubject
    from egov import audit
    from egov.db import alembic_config
    from egov.settings import Settings

    settings_env["EGOV_DATABASE_URL"] = database_url
    settings = Settings.from_env(settings_env)
    database = Database(database_url)
    command.upgrade(alembic_config(database_url), "0002")
    authority = CertificateAuthority(settings, database)
    authority.init_hierarchy("test:release-1")
    subject = PersonSubject(full_name="Nguyễn Thị Hồng Đào", cccd="001190000123")
    leaf = authority.issue(IssuanceRequest("official", subject), actor="test:release-1").record

    def snapshot() -> tuple[dict[str, bytes], list[tuple[int, str, str]]]:
        with database.transaction() as session:
            certificates = {r.serial: r.der for r in session.execute(select(CertificateRecord)).scalars()}
            records = [(r.seq, r.action, r.hash) for r in audit.list_records(session, limit=10_000)]
        return certificates, records

    before = snapshot()
    database.upgrade()
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert snapshot() == before
    assert leaf.serial in before[0]
    with database.transaction() as session:
        assert audit.verify_chain(session).ok
    authority.issue(IssuanceRequest("official", subject), actor="test:release-2")
    with database.transaction() as session:
        assert audit.verify_chain(session).ok
    database.dispose()
