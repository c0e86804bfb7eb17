"""`egov sign` and `egov verify`: PAdES signing with Decree 30 appearances, and validation, one file or many."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click

from api.cli.common import actor_option, vietnam_time
from egov.settings import get_settings
from signing import appearance as d30
from signing.errors import SigningError
from signing.explanation import CHANGES, COVERAGE, REVOCATION, YES_NO
from signing.signer import DocumentSigner, PadesLevel, SignatureRequest, record_signature, write_atomically
from signing.validation import DocumentValidator, SignatureReport, ValidationReport, Verdict

EXIT_FAILED = 1
EXIT_INDETERMINATE = 3
T = TypeVar("T")


def _quiet_pyhanko() -> None:
    """pyHanko logs each failed check with a traceback; our report already says why, so keep stderr readable."""
    if get_settings().log_level.upper() != "DEBUG":
        for name in ("pyhanko", "pyhanko_certvalidator"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _pdfs(inputs: tuple[Path, ...]) -> list[Path]:
    """The files named, with folders expanded to the PDFs directly in them (sorted)."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".pdf"))
        else:
            files.append(path)
    if not files:
        raise click.UsageError("không có tệp PDF nào / no PDF files to process")
    return files


def _run_batch(files: list[Path], label: str, work: Callable[[Path], T]) -> list[tuple[Path, T | SigningError]]:
    """Process each file, never stopping at a bad one; a progress bar on stderr when there is more than one."""
    results: list[tuple[Path, T | SigningError]] = []

    def step(path: Path) -> None:
        try:
            results.append((path, work(path)))
        except SigningError as exc:
            results.append((path, exc))
        except OSError as exc:
            results.append((path, SigningError(f"Không đọc/ghi được {path}", f"cannot read or write {path}: {exc}")))

    if len(files) == 1:
        step(files[0])
        return results
    with click.progressbar(files, label=label, file=sys.stderr, show_pos=True) as bar:
        for path in bar:
            step(path)
    return results


def _error_line(path: Path, error: SigningError) -> str:
    return f"{path}: lỗi / error [{error.code}]: {error.vietnamese}\n  {error.english}"


def _parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        x1, y1, x2, y2 = (float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter("cần 4 số x1,y1,x2,y2 (điểm PDF) / need four numbers x1,y1,x2,y2 in PDF points",
                                 param_hint="--box") from None
    return (x1, y1, x2, y2)


def _appearance(
    kind: str, placeholder: str | None, page: int, box: str | None, image: Path | None, seal_diameter: float | None,
    copy_form: str | None, copy_org: str | None, number_symbol: str | None,
) -> d30.Appearance | None:
    if kind == "none":
        return None
    if kind == "personal":
        placement = d30.Placement(page - 1, parsed) if (parsed := _parse_box(box)) else None
        if placement is None and placeholder is None:
            raise click.UsageError(
                "chữ ký cá nhân cần --placeholder TÊN hoặc --box / a personal signature needs --placeholder or --box"
            )
        return d30.PersonalSignature(image=image or d30.DEMO_SIGNATURE, placement=placement, placeholder=placeholder)
    if kind == "seal":
        return d30.OrganizationSeal(image=image or d30.DEMO_SEAL,
                                    diameter_mm=seal_diameter or d30.DEMO_SEAL_DIAMETER_MM)
    if kind == "copy":
        if not copy_form or not copy_org:
            raise click.UsageError("bản sao cần --copy-form và --copy-org / a copy needs --copy-form and --copy-org")
        return d30.CopyNotice(copy_form, copy_org)
    if not number_symbol:
        raise click.UsageError("phụ lục cần --number-symbol / an attachment needs --number-symbol")
    return d30.AttachmentNotice(number_symbol)


@click.command("sign")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output PDF (one input) or folder (several inputs or a folder).")
@click.option("--credential", required=True, help="Serial of the signing certificate (its key is held by the service).")
@click.option("--level", default="B-B", show_default=True, help="PAdES level: B-B, B-T, B-LT or B-LTA.")
@click.option("--appearance", "kind", default="none", show_default=True,
              type=click.Choice(["none", "personal", "seal", "copy", "attachment"]),
              help="Decree 30 appearance: competent person, organisation seal, copy or attachment notice.")
@click.option("--placeholder", help="Name of the empty signature field to sign into (personal signature).")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Page for --box (1 = first).")
@click.option("--box", help="x1,y1,x2,y2 in PDF points from the lower left (personal signature).")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Signature or seal image (transparent PNG); the demo images by default.")
@click.option("--seal-diameter", type=click.FloatRange(10, 80), help="Real diameter of the seal in mm.")
@click.option("--copy-form", type=click.Choice(list(d30.COPY_FORMS)), help="Form of copy (copies).")
@click.option("--copy-org", help="Copying organisation (copies).")
@click.option("--number-symbol", help="Number and symbol of the main document (attachments).")
@click.option("--field", "field_name", help="Name for the new signature field.")
@click.option("--reason", help="Reason recorded in the signature.")
@click.option("--location", help="Location recorded in the signature.")
@click.option("--certify", is_flag=True, help="Certification signature (DocMDP): only form filling and signing after.")
@click.option("--tsa-url", help="Time-stamping authority (default: EGOV_TSA_URL, i.e. our TSA).")
@click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Extra trust anchor (PEM) for B-LT/B-LTA revocation collection; repeatable.")
@actor_option
def sign(
    inputs: tuple[Path, ...], output: Path, credential: str, level: str, kind: str, placeholder: str | None,
    page: int, box: str | None, image: Path | None, seal_diameter: float | None, copy_form: str | None,
    copy_org: str | None, number_symbol: str | None, field_name: str | None, reason: str | None,
    location: str | None, certify: bool, tsa_url: str | None, trust_files: tuple[Path, ...], actor: str,
) -> None:
    """Ký văn bản PDF / sign PDFs (PAdES) with a credential of the platform, one file or a whole folder."""
    from ca.authority import CertificateAuthority
    from signing.credentials import load_credential
    from signing.trust import trust_anchors

    _quiet_pyhanko()
    files = _pdfs(inputs)
    batch = len(files) > 1 or any(p.is_dir() for p in inputs)
    if batch and output.exists() and not output.is_dir():
        raise click.UsageError("nhiều tệp cần -o là thư mục / several inputs need -o to be a folder")
    # A refusal here (bad credential, options, trust file) is a `Refusal`: `run_guarded` prints it and exits 2.
    shown = _appearance(kind, placeholder, page, box, image, seal_diameter, copy_form, copy_org, number_symbol)
    request = SignatureRequest(field_name=field_name, appearance=shown, reason=reason, location=location,
                               certify=certify)
    settings = get_settings()
    authority = CertificateAuthority(settings)
    signing_credential = load_credential(authority, credential)
    anchors = trust_anchors(settings, trust_files)
    signer = DocumentSigner(signing_credential, settings, PadesLevel.parse(level), tsa_url=tsa_url,
                            trust_anchors=anchors)

    def sign_one(path: Path) -> Path:
        data = path.read_bytes()
        target = output / path.name if batch else output
        if target.resolve() == path.resolve():
            raise SigningError("Không ghi đè tệp gốc", f"refusing to overwrite the input {path}")
        signed = signer.sign(data, request)
        write_atomically(target, signed.data)
        record_signature(authority.database, actor, signing_credential, signed, hashlib.sha256(data).hexdigest())
        return target

    results = _run_batch(files, "Đang ký / signing", sign_one)
    failures = [(p, r) for p, r in results if isinstance(r, SigningError)]
    for path, result in results:
        if isinstance(result, SigningError):
            click.echo(_error_line(path, result), err=True)
        elif not batch:
            subject = signing_credential.certificate.subject.rfc4514_string()
            click.echo(f"Đã ký / signed: {result} ({signer.level.value}, {subject})")
    if batch:
        click.echo(f"Đã ký / signed: {len(results) - len(failures)}, lỗi / failed: {len(failures)} → {output}")
    if failures:
        raise click.exceptions.Exit(EXIT_FAILED)


def _describe(report: ValidationReport, path: Path) -> Iterator[str]:
    verdict = report.verdict
    yield f"{path}: {verdict.vietnamese} / {verdict.value}  ({len(report.signatures)} chữ ký / signatures)"
    for index, sig in enumerate(report.signatures, 1):
        yield from _describe_signature(index, sig)


def _describe_signature(index: int, sig: SignatureReport) -> Iterator[str]:
    signer = sig.signer
    who = ", ".join(x for x in (signer.name, signer.identifier, signer.title, signer.organization) if x)
    yield (f"  #{index} {sig.field_name}: {sig.verdict.vietnamese} / {sig.verdict.value} "
           f"[{sig.subindication}] — {sig.reason_vi} / {sig.reason_en}")
    rows = [
        ("Người ký / signer", who),
        ("Cấp bởi / issuer", signer.issuer),
        ("Thời điểm ký (khai báo) / claimed signing time", vietnam_time(sig.claimed_signing_time)),
        ("Dấu thời gian / timestamp", f"{vietnam_time(sig.timestamp_time)} (hợp lệ / valid: "
                                      f"{YES_NO.get(sig.timestamp_valid, '-')})" if sig.timestamp_time else "-"),
        ("Toàn vẹn / intact", str(YES_NO[sig.intact])),
        ("Chuỗi tin cậy / trusted chain", str(YES_NO[sig.trusted])),
        ("Trạng thái thu hồi / revocation", str(REVOCATION.get(sig.revocation, sig.revocation))
         + (f" {vietnam_time(sig.revoked_at)}" if sig.revoked_at else "")
         + (" — sau khi ký / after signing" if sig.revocation == "revoked" and sig.passed else "")),
        ("Phạm vi ký / covers", str(COVERAGE.get(sig.coverage, sig.coverage))),
        ("Thay đổi sau khi ký / later changes", str(CHANGES.get(sig.modification, sig.modification))),
        ("Mức PAdES / level", sig.level + (" (chữ ký chứng nhận / certification)" if sig.certification else "")),
    ]
    for label, value in rows:
        yield f"      {label}: {value}"


@click.command("verify")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Extra trust anchor (PEM or DER root); repeatable. Our root is trusted by default.")
@click.option("--no-default-trust", is_flag=True, help="Trust only the --trust anchors (and EGOV_TRUST_ANCHORS).")
@click.option("--revocation", type=click.Choice(["require", "soft", "off"]), default="require", show_default=True,
              help="require: OCSP/CRL evidence needed; soft: checked when reachable; off: not checked.")
@click.option("--offline", is_flag=True, help="Use only validation data embedded in the file (no OCSP/CRL fetch).")
def verify(
    inputs: tuple[Path, ...], as_json: bool, trust_files: tuple[Path, ...], no_default_trust: bool, revocation: str,
    offline: bool,
) -> None:
    """Kiểm tra chữ ký / verify signed PDFs. Exit 0: all TOTAL-PASSED; 1: TOTAL-FAILED or unreadable;
    3: INDETERMINATE."""
    from signing.trust import trust_anchors

    _quiet_pyhanko()
    files = _pdfs(inputs)
    settings = get_settings()
    anchors = trust_anchors(settings, trust_files, include_ours=not no_default_trust)  # refusals: run_guarded
    validator = DocumentValidator(settings, anchors, revocation=revocation, allow_fetching=not offline)
    results = _run_batch(files, "Đang kiểm tra / verifying",
                         lambda path: validator.validate(path.read_bytes(), name=str(path)))
    worst = Verdict.TOTAL_PASSED
    documents = []
    for path, result in results:
        if isinstance(result, SigningError):
            worst = Verdict.TOTAL_FAILED
            documents.append({"document": str(path), "verdict": None,
                              "error": {"code": result.code, "vi": result.vietnamese, "en": result.english}})
            if not as_json:
                click.echo(_error_line(path, result), err=True)
            continue
        worst = max(worst, result.verdict, key=lambda verdict: verdict.rank)
        documents.append(result.to_dict())
        if not as_json:
            for line in _describe(result, path):
                click.echo(line)
    passed = sum(1 for d in documents if d.get("verdict") == Verdict.TOTAL_PASSED.value)
    if as_json:
        payload = documents[0] if len(documents) == 1 else {
            "documents": documents, "summary": {"total": len(documents), "passed": passed}}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif len(documents) > 1:
        click.echo(f"Tổng / total: {len(documents)}, hợp lệ / TOTAL-PASSED: {passed}, "
                   f"còn lại / others: {len(documents) - passed}")
    if worst is not Verdict.TOTAL_PASSED:
        raise click.exceptions.Exit(EXIT_FAILED if worst is Verdict.TOTAL_FAILED else EXIT_INDETERMINATE)


def register(group: click.Group) -> None:
    group.add_command(sign)
    group.add_command(verify)
