"""Other people's tools over our signed PDFs: poppler's pdfsig (trust from an NSS database), pdftoppm, and
pyHanko's own validator."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".egov-data" / "test-artifacts" / "signing"


def nss_database(directory: Path, roots: Iterable[x509.Certificate]) -> str:
    """An NSS database trusting `roots` for pdfsig (`-nssdir sql:DIR`)."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True, capture_output=True)
    for index, root in enumerate(roots):
        pem = directory / f"root-{index}.pem"
        pem.write_bytes(root.public_bytes(Encoding.PEM))
        subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", f"root-{index}", "-t", "CT,C,C", "-i",
                        str(pem)], check=True, capture_output=True)
    return f"sql:{directory}"


def pdfsig(path: Path, nss: str | None = None) -> str:
    """pdfsig's report (it exits 0 even on a digest mismatch: read the text)."""
    args = ["pdfsig", *(["-nssdir", nss] if nss else []), str(path)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def pdfsig_blocks(report: str) -> list[str]:
    """pdfsig's report cut into one block per signature."""
    return ["Signature #" + block for block in report.split("Signature #")[1:]]


def render_page(pdf: Path, page: int, out_stem: Path, dpi: int = 100) -> Image.Image:
    """Render one page (1-based) to PNG with pdftoppm; the PNG stays next to `out_stem` for people to look at."""
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page), str(pdf),
                    str(out_stem)], check=True, capture_output=True, timeout=120)
    return Image.open(out_stem.with_suffix(".png")).convert("RGB")


def pyhanko_statuses(
    data: bytes, roots: Iterable[x509.Certificate], revocation_mode: str = "soft-fail", allow_fetching: bool = True
) -> list[PdfSignatureStatus]:
    """pyHanko's own verdict on every signature (its classic validator, independent of our code paths)."""
    trust = [asn1_x509.Certificate.load(r.public_bytes(Encoding.DER)) for r in roots]
    reader = PdfFileReader(BytesIO(data))
    statuses = []
    for signature in reader.embedded_regular_signatures:
        context = ValidationContext(trust_roots=trust, allow_fetching=allow_fetching, revocation_mode=revocation_mode)
        statuses.append(validate_pdf_signature(signature, context))
    return statuses
