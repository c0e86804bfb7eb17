"""Suspend, release, revoke: the allowed transitions, reasons and times, refusals, and concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.errors import InvalidRequest, NotFound, StatusConflict
from ca.names import PersonSubject
from egov import audit

SUBJECT = PersonSubject("Nguyễn Thị Hồng Đào", "001190012345", title="Chủ tịch")


@pytest.fixture
def serial(authority: CertificateAuthority) -> str:
    return authority.issue(IssuanceRequest("official", SUBJECT), actor="test").serial


def actions(authority: CertificateAuthority, serial: str) -> list[str]:
    with authority.database.transaction() as session:
        return [r.action for r in reversed(audit.list_records(session, target=f"certificate:{serial}"))]


def test_suspend_then_release_returns_to_good(authority: CertificateAuthority, serial: str):
    suspended = authority.suspend(serial, actor="test:operator")
    assert suspended.status == "suspended" and suspended.revocation_reason == "certificateHold"
    released = authority.release(serial, actor="test:operator")
    assert released.status == "good" and released.revocation_reason is None and released.status_changed_at is None
    assert actions(authority, serial) == ["certificate.issue", "certificate.suspend", "certificate.release"]


def test_revoke_records_reason_time_and_invalidity_date(authority: CertificateAuthority, serial: str):
    compromised = datetime.now(UTC) - timedelta(days=2)
    record = authority.revoke(serial, "keyCompromise", actor="test:operator", invalidity_date=compromised)
    stored = authority.get(serial)
    assert stored.status == "revoked" and stored.revocation_reason == "keyCompromise"
    assert stored.invalidity_date == compromised.replace(microsecond=compromised.microsecond)
    assert abs(stored.status_changed_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert record.status == "revoked"


def test_suspended_certificate_can_be_revoked(authority: CertificateAuthority, serial: str):
    authority.suspend(serial, actor="test")
    assert authority.revoke(serial, "cessationOfOperation", actor="test").status == "revoked"


def test_revoked_is_final(authority: CertificateAuthority, serial: str):
    authority.revoke(serial, "superseded", actor="test")
    for change in (
        lambda: authority.revoke(serial, "keyCompromise", actor="test"),
        lambda: authority.suspend(serial, actor="test"),
        lambda: authority.release(serial, actor="test"),
    ):
        with pytest.raises(StatusConflict):
            change()
    assert authority.get(serial).revocation_reason == "superseded"
    assert actions(authority, serial) == ["certificate.issue", "certificate.revoke"]


def test_releasing_a_good_certificate_is_refused(authority: CertificateAuthority, serial: str):
    with pytest.raises(StatusConflict):
        authority.release(serial, actor="test")


def test_unknown_serial_and_bad_reason_are_refused(authority: CertificateAuthority, serial: str):
    with pytest.raises(NotFound):
        authority.revoke("0123456789abcdef", "keyCompromise", actor="test")
    with pytest.raises(InvalidRequest):
        authority.revoke("not-hex!", "keyCompromise", actor="test")
    with pytest.raises(InvalidRequest):
        authority.revoke(serial, "certificateHold", actor="test")  # that is what suspend is for
    with pytest.raises(InvalidRequest):
        authority.revoke(serial, "keyCompromise", actor="test", invalidity_date=datetime.now(UTC) + timedelta(days=3))
    assert authority.get(serial).status == "good"


def test_serial_accepts_colons_and_upper_case(authority: CertificateAuthority, serial: str):
    pretty = ":".join(serial.upper()[i : i + 2] for i in range(0, len(serial), 2))
    assert authority.get(pretty).serial == serial


def test_concurrent_revocation_of_one_serial_succeeds_exactly_once(authority: CertificateAuthority, serial: str):
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def revoke() -> None:
        barrier.wait()
        try:
            authority.revoke(serial, "keyCompromise", actor="test:race")
            outcomes.append("revoked")
        except StatusConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=revoke) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["revoked"]
    assert actions(authority, serial).count("certificate.revoke") == 1


def test_cli_lifecycle_with_readable_output(egov):
    egov("ca", "init", check=True)
    issued = egov("ca", "issue", "--profile", "official", "--generate-key", "--name", "Nguyễn Thị Hồng Đào",
                  "--cccd", "001190012345", "--out", "/dev/null", check=True)
    serial = issued.stdout.split("issued ")[1].split()[0]
    listed = egov("ca", "list", "--profile", "official", check=True).stdout
    assert serial in listed and "CN=Nguyễn Thị Hồng Đào" in listed and "+07:00" in listed
    assert "tạm dừng / suspended" in egov("ca", "suspend", serial, check=True).stdout
    assert "tạm dừng / suspended" in egov("ca", "show", serial, check=True).stdout
    egov("ca", "release", serial, check=True)
    egov("ca", "revoke", serial, "--reason", "keyCompromise", "--invalidity-date", "2026-01-02T08:00:00+07:00",
         check=True)
    shown = egov("ca", "show", serial, check=True).stdout
    assert "thu hồi / revoked" in shown and "keyCompromise" in shown and "2026-01-02T08:00:00+07:00" in shown
    again = egov("ca", "revoke", serial, "--reason", "keyCompromise")
    assert again.returncode == 2 and "status-conflict" in again.stderr
    missing = egov("ca", "revoke", "abcdef0123", "--reason", "keyCompromise")
    assert missing.returncode == 2 and "not-found" in missing.stderr
    naive = egov("ca", "revoke", serial, "--invalidity-date", "2026-01-02T08:00:00")
    assert naive.returncode == 2 and "time zone" in naive.stderr
    assert egov("audit", "verify", check=True).returncode == 0
