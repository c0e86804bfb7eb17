"""`egov ca …`: the CA operator's commands (hierarchy, issuance, status, export)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from cryptography.hazmat.primitives.serialization import Encoding

from api.cli.common import actor_option, vietnam_time
from ca.authority import REVOCATION_REASONS, CertificateAuthority, IssuanceRequest
from ca.models import CertificateRecord
from ca.names import OrganizationSubject, PersonSubject
from ca.profiles import PROFILES, get_profile

STATUS_LABELS = {"good": "hiệu lực / good", "suspended": "tạm dừng / suspended", "revoked": "thu hồi / revoked"}


@click.group()
def ca() -> None:
    """Tổ chức chứng thực nội bộ / internal certification authority."""


def _summary(record: CertificateRecord) -> str:
    return (
        f"{record.serial}  {record.profile:<22} {STATUS_LABELS[record.status]:<22} "
        f"{vietnam_time(record.not_before)} → {vietnam_time(record.not_after)}  {record.subject}"
    )


@ca.command("init")
@click.option("--backend", type=click.Choice(["file", "pkcs11"]), help="Key backend for the CA keys.")
@actor_option
def init(backend: str | None, actor: str) -> None:
    """Tạo cây CA / create root, issuing CAs, TSA and OCSP responders (idempotent)."""
    authority = CertificateAuthority()
    created = authority.init_hierarchy(actor, backend=backend)
    if not created:
        click.echo("CA đã được khởi tạo, không thay đổi gì / the CA already exists; nothing changed")
    for record in created:
        click.echo(f"đã tạo / created {record.role:<22} {record.serial}  {record.subject}")


@ca.command("issue")
@click.option("--profile", "profile_name", required=True, help=f"One of: {', '.join(PROFILES)}.")
@click.option("--csr", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PKCS#10 request (PEM/DER).")
@click.option("--generate-key", is_flag=True, help="Generate the key in the backend instead of taking a CSR.")
@click.option("--backend", type=click.Choice(["file", "pkcs11"]), help="Backend for --generate-key.")
@click.option("--key-algorithm", help="rsa-2048|rsa-3072|rsa-4096|ec-p256|ec-p384 for --generate-key.")
@click.option("--name", "full_name", help="Full name (people) or agency name (organisations), in Unicode.")
@click.option("--cccd", help="12-digit personal identification number (people).")
@click.option("--mst", help="Tax code (organisations).")
@click.option("--mns", help="Budget relation code (organisations).")
@click.option("--title", help="Position title, e.g. 'Chủ tịch'.")
@click.option("--org", "organization", help="Organisation (O) of a person.")
@click.option("--province", help="Province or city (ST).")
@click.option("--days", type=int, help="Validity in days (capped by the profile).")
@click.option("--owner", help="Identity-provider subject (sub) the credential belongs to.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the certificate (PEM) here.")
@actor_option
def issue(
    profile_name: str, csr: Path | None, generate_key: bool, backend: str | None, key_algorithm: str | None,
    full_name: str | None, cccd: str | None, mst: str | None, mns: str | None, title: str | None,
    organization: str | None, province: str | None, days: int | None, owner: str | None, out: Path | None,
    actor: str,
) -> None:
    """Cấp chứng thư / issue a certificate from a CSR or with a key generated in a backend."""
    if bool(csr) == generate_key:
        raise click.UsageError("give exactly one of --csr FILE or --generate-key")
    profile = get_profile(profile_name)
    subject: PersonSubject | OrganizationSubject | None = None
    if full_name or cccd or mst or mns:
        if profile.subject_kind == "person":
            subject = PersonSubject(full_name or "", cccd or "", organization, province, title)
        else:
            subject = OrganizationSubject(full_name or "", tax_code=mst, budget_code=mns, province=province)
    request = IssuanceRequest(
        profile=profile.name, subject=subject, csr=csr.read_bytes() if csr else None,
        key_spec=key_algorithm if generate_key else None, backend=backend, validity_days=days, owner=owner,
    )
    issued = CertificateAuthority().issue(request, actor)
    pem = issued.certificate.public_bytes(Encoding.PEM)
    if out:
        out.write_bytes(pem + b"".join(c.public_bytes(Encoding.PEM) for c in issued.chain[:-1]))
    click.echo(f"đã cấp / issued {_summary(issued.record)}")
    if issued.record.key_uri:
        click.echo(f"khóa / key: {issued.record.key_uri}")
    if not out:
        click.echo(pem.decode(), nl=False)


@ca.command("list")
@click.option("--status", type=click.Choice(["good", "suspended", "revoked"]))
@click.option("--profile", "profile_name")
def list_certificates(status: str | None, profile_name: str | None) -> None:
    """Liệt kê chứng thư / list certificates."""
    for record in CertificateAuthority().list(status=status, profile=profile_name):
        click.echo(_summary(record))


@ca.command("show")
@click.argument("serial")
@click.option("--pem", is_flag=True, help="Print the certificate as PEM too.")
def show(serial: str, pem: bool) -> None:
    """Xem một chứng thư / show one certificate."""
    record = CertificateAuthority().get(serial)
    rows = [
        ("Số hiệu / serial", record.serial),
        ("Chủ thể / subject", record.subject),
        ("Hồ sơ / profile", record.profile),
        ("Trạng thái / status", STATUS_LABELS[record.status]),
        ("Hiệu lực từ / not before", vietnam_time(record.not_before)),
        ("Hiệu lực đến / not after", vietnam_time(record.not_after)),
        ("Khóa / key", record.key_uri or "-"),
        ("SHA-256", record.sha256),
    ]
    if record.status != "good":
        rows += [
            ("Thời điểm / since", vietnam_time(record.status_changed_at)),
            ("Lý do / reason", record.revocation_reason or "-"),
        ]
    if record.invalidity_date:
        rows.append(("Mất hiệu lực từ / invalidity date", vietnam_time(record.invalidity_date)))
    for label, value in rows:
        click.echo(f"{label:<34} {value}")
    if pem:
        click.echo(record.certificate.public_bytes(Encoding.PEM).decode(), nl=False)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-11-23T10:00:00+07:00")
    return value


@ca.command("revoke")
@click.argument("serial")
@click.option("--reason", type=click.Choice(list(REVOCATION_REASONS)), default="unspecified", show_default=True)
@click.option("--invalidity-date", type=datetime.fromisoformat, help="When the key is known or suspected compromised.")
@actor_option
def revoke(serial: str, reason: str, invalidity_date: datetime | None, actor: str) -> None:
    """Thu hồi (vĩnh viễn) / revoke for good with an RFC 5280 reason."""
    record = CertificateAuthority().revoke(serial, reason, actor, invalidity_date=_aware(invalidity_date))
    click.echo(f"đã thu hồi / revoked {record.serial} ({reason}) {vietnam_time(record.status_changed_at)}")


@ca.command("suspend")
@click.argument("serial")
@actor_option
def suspend(serial: str, actor: str) -> None:
    """Tạm dừng / suspend (certificateHold)."""
    record = CertificateAuthority().suspend(serial, actor)
    click.echo(f"đã tạm dừng / suspended {record.serial}")


@ca.command("release")
@click.argument("serial")
@actor_option
def release(serial: str, actor: str) -> None:
    """Khôi phục / release a suspended certificate."""
    record = CertificateAuthority().release(serial, actor)
    click.echo(f"đã khôi phục / released {record.serial}")


@ca.command("crl")
@click.option("--ca", "slug", type=click.Choice(["individuals", "organizations", "root"]), default="individuals",
              show_default=True, help="Which CA's CRL.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it here (default: stdout).")
@click.option("--pem", is_flag=True, help="PEM instead of DER.")
@actor_option
def crl(slug: str, out: Path | None, pem: bool, actor: str) -> None:
    """Phát hành CRL ngay / sign and publish a new CRL now (the next CRL number)."""
    from ca.crl import CrlPublisher, role_for_slug

    published = CrlPublisher(CertificateAuthority()).publish(role_for_slug(slug), actor)
    data = published.pem if pem else published.der
    if out is None:
        click.get_binary_stream("stdout").write(data)
        return
    out.write_bytes(data)
    click.echo(
        f"CRL #{published.number} ({slug}): {published.entries} entries, "
        f"{vietnam_time(published.this_update)} → {vietnam_time(published.next_update)}: {out}"
    )


@ca.command("export")
@click.option("--out", "directory", required=True, type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Xuất chứng thư CA / write every CA certificate (PEM) and chain files."""
    for path in CertificateAuthority().export(directory):
        click.echo(str(path))


@ca.command("enroll")
@click.option("--user", "username", required=True, help="Keycloak username (realm egov) the credential is bound to.")
@click.option("--profile", "profile_name", required=True,
              type=click.Choice(["official", "organisation", "organization"]))
@click.option("--backend", type=click.Choice(["file", "pkcs11"]), help="Key backend (default: EGOV_KEY_BACKEND).")
@click.option("--key-algorithm", help="rsa-2048|rsa-3072|rsa-4096|ec-p256|ec-p384.")
@click.option("--title", help="Position title of an official, e.g. 'Chủ tịch'.")
@click.option("--org-name", "organization", help="Agency: O= of an official, or the seal's agency name.")
@click.option("--mst", help="Tax code of the agency (seal).")
@click.option("--mns", help="Budget relation code of the agency (seal).")
@click.option("--province", help="Province or city (ST).")
@click.option("--certificate", help="Bind this existing seal certificate (serial) to the user instead of issuing one.")
@actor_option
def enroll(username: str, profile_name: str, backend: str | None, key_algorithm: str | None, title: str | None,
           organization: str | None, mst: str | None, mns: str | None, province: str | None,
           certificate: str | None, actor: str) -> None:
    """Cấp chứng thư ký từ xa / issue a remote-signing credential bound to a Keycloak user (name and CCCD from
    the directory; an organisation seal can be bound to several clerks with --certificate)."""
    from signing.remote.directory import KeycloakDirectory, UnknownUser
    from signing.remote.enrollment import EnrolmentRequest
    from signing.remote.enrollment import enroll as enroll_user
    from signing.remote.errors import CscError

    authority = CertificateAuthority()
    try:
        user = KeycloakDirectory.for_settings(authority.settings).find(username)
    except UnknownUser as exc:
        raise click.ClickException(f"Không có người dùng {username!r} / {exc}") from exc
    except CscError as exc:
        raise click.ClickException(f"Không hỏi được Keycloak / {exc.description}") from exc
    request = EnrolmentRequest(profile=profile_name, backend=backend, key_algorithm=key_algorithm, title=title,
                               organization=organization, province=province, tax_code=mst, budget_code=mns,
                               certificate=certificate)
    enrolment = enroll_user(authority, user, request, actor)
    click.echo(f"credential: {enrolment.credential_id}")
    click.echo(f"certificate: {enrolment.serial}  {enrolment.subject}")
    click.echo(f"owner: {enrolment.username} ({enrolment.owner})")
