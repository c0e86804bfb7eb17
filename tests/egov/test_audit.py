"""The audit trail is hash-chained: editing or deleting any record is detected by `egov audit verify`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.names import PersonSubject
from egov import audit
from egov.settings import Settings


def populated(egov) -> None:
    egov("ca", "init", check=True)
    issued = egov("ca", "issue", "--profile", "official", "--generate-key", "--name", "Lê Thị Thu",
                  "--cccd", "079190001234", "--out", "/dev/null", check=True)
    egov("ca", "suspend", issued.stdout.split("issued ")[1].split()[0], check=True)


def database_file(settings: Settings) -> Path:
    return settings.data_dir / "egov.sqlite3"


def test_intact_trail_verifies(egov):
    populated(egov)
    result = egov("audit", "verify")
    assert result.returncode == 0 and "8 records" in result.stdout


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_records SET actor = 'cli:someone-else' WHERE seq = 3",
        "UPDATE audit_records SET details = replace(details, 'suspended', 'good') WHERE seq = 8",
        "DELETE FROM audit_records WHERE seq = 4",
        "DELETE FROM audit_records WHERE seq = 8",
    ],
    ids=["edit-actor", "edit-details", "delete-middle", "delete-last"],
)
def test_edited_or_deleted_record_fails_verification(egov, settings: Settings, tamper: str):
    populated(egov)
    with sqlite3.connect(database_file(settings)) as connection:
        connection.execute(tamper)
    result = egov("audit", "verify")
    assert result.returncode == 1
    assert "AUDIT TRAIL TAMPERED" in result.stderr


def test_recomputed_hash_after_edit_still_breaks_the_next_link(authority: CertificateAuthority):
    authority.issue(IssuanceRequest("official", PersonSubject("Lê Thị Thu", "079190001234")), actor="test")
    with authority.database.transaction() as session:
        record = session.get(audit.AuditRecord, 2)
        record.actor = "forger"
        record.hash = audit.record_hash(
            record.seq, record.at, record.actor, record.action, record.target, record.details, record.prev_hash
        )
    with authority.database.transaction() as session:
        result = audit.verify_chain(session)
    assert not result.ok and result.bad_seq == 3


def test_audit_list_shows_who_did_what(egov):
    populated(egov)
    listed = egov("audit", "list", "--json", "--limit", "2", check=True).stdout.splitlines()
    assert '"action": "certificate.suspend"' in listed[0]
    assert "cli:" in listed[0]
    with pytest.raises(AssertionError):
        egov("audit", "list", "--limit", "0", check=True)


def test_records_are_in_the_same_transaction_as_the_action(authority: CertificateAuthority):
    with authority.database.transaction() as session:
        issued = session.execute(text("SELECT count(*) FROM certificates")).scalar_one()
        records = session.execute(text("SELECT count(*) FROM audit_records WHERE action = 'certificate.issue'"))
        assert records.scalar_one() == issued
