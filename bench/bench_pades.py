"""PAdES signing throughput: our DocumentSigner against pyHanko's SimpleSigner on the same files, same key, same
TSA/OCSP/CRL (`egov serve` on loopback), in the same run; and the raw private-key signature rate as the limit.

    .venv/bin/python bench/bench_pades.py [--docs 20] [--rounds 3] [--levels B-B,B-T,B-LT]

Documents: the 1-page and 50-page official documents of the tests (reportlab, Vietnamese text). Both signers
make an invisible PAdES signature (subfilter ETSI.CAdES.detached) with an RSA-2048 file key of our CA:

- **ours**: one `DocumentSigner` per level, built once (key handle, chain, reserved size), `sign(data)` per document;
- **SimpleSigner**: pyHanko's in-memory signer built once from the same key and chain, a `PdfSigner` per document
  (pyHanko's normal use: it sizes the signature by a dry-run signing pass; B-LT with a fresh ValidationContext);
- **raw**: `SigningKey.sign` of 32 bytes with the same key, in this process.

Rounds interleave the signers; the best round of each counts (the machine is shared, so the best is the least
disturbed). B-T and B-LT include the HTTP round trips to our TSA and OCSP responder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from pyhanko.keys import load_private_key_from_pemder_data  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers, timestamps  # noqa: E402
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402

from ca.authority import CertificateAuthority, IssuanceRequest  # noqa: E402
from ca.keys import SignatureScheme  # noqa: E402
from ca.names import OrganizationSubject  # noqa: E402
from egov.db import get_database  # noqa: E402
from egov.settings import Settings  # noqa: E402
from signing.credentials import load_credential  # noqa: E402
from signing.signer import DocumentSigner, PadesLevel, to_asn1  # noqa: E402
from tests.support.documents import official_document  # noqa: E402
from tests.support.postgres import free_port  # noqa: E402
from tests.support.server import PkiServer  # noqa: E402

PASSPHRASE = "bench-passphrase-not-for-production"


def rate(work: Callable[[bytes], object], documents: list[bytes]) -> float:
    start = time.perf_counter()
    for data in documents:
        work(data)
    return len(documents) / (time.perf_counter() - start)


def raw_rate(key, seconds: float = 1.0) -> float:  # noqa: ANN001 - a SigningKey
    scheme = SignatureScheme("sha256")
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(b"\x00" * 32, scheme)
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20, help="documents per signer per round (B-B; B-T/B-LT: half)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="B-B,B-T,B-LT")
    args = parser.parse_args()
    levels = [PadesLevel.parse(level) for level in args.levels.split(",")]

    with tempfile.TemporaryDirectory(prefix="egov-bench-pades-") as tmp:
        port = free_port()
        env = {
            "EGOV_DATA_DIR": str(Path(tmp) / "data"), "EGOV_KEY_PASSPHRASE": PASSPHRASE,
            "EGOV_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "EGOV_LOG_LEVEL": "WARNING",
        }
        settings = Settings.from_env(env)
        authority = CertificateAuthority(settings, get_database(settings))
        authority.init_hierarchy("bench")
        agency = OrganizationSubject("Ủy ban nhân dân tỉnh Bình Phước", tax_code="3800123456")
        issued = authority.issue(
            IssuanceRequest(profile="organization", subject=agency, key_spec="rsa-2048", backend="file"), "bench"
        )
        credential = load_credential(authority, issued.serial)
        key_path = settings.keys_dir / f"{credential.key.uri.removeprefix('file:')}.p8"
        private = serialization.load_pem_private_key(key_path.read_bytes(), PASSPHRASE.encode())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        simple = signers.SimpleSigner(
            signing_cert=to_asn1(credential.certificate),
            signing_key=load_private_key_from_pemder_data(pem, passphrase=None),
            cert_registry=SimpleCertificateStore.from_certs([to_asn1(c) for c in credential.chain]),
        )
        trust = [to_asn1(credential.root)]
        chain = [to_asn1(c) for c in credential.chain]
        documents = {pages: official_document(pages=pages, placeholder=False).data for pages in (1, 50)}

        with PkiServer({**os.environ, **env}, port, workers=2):
            def simple_sign(level: PadesLevel) -> Callable[[bytes], object]:
                timestamper = timestamps.HTTPTimeStamper(settings.tsa_url) if level.timestamped else None

                def sign(data: bytes) -> object:
                    metadata = signers.PdfSignatureMetadata(
                        field_name="Signature1", subfilter=SigSeedSubFilter.PADES,
                        embed_validation_info=level.long_term,
                        validation_context=ValidationContext(trust_roots=trust, other_certs=chain, allow_fetching=True)
                        if level.long_term else None,
                    )
                    return signers.PdfSigner(metadata, simple, timestamper=timestamper).sign_pdf(
                        IncrementalPdfFileWriter(BytesIO(data)))
                return sign

            print(f"raw RSA-2048 signature (SigningKey.sign, file backend): {raw_rate(credential.key):,.0f}/s")
            print()
            print("| level | pages | ours docs/s | SimpleSigner docs/s | ours / SimpleSigner | ms per doc (ours) |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |")
            for level in levels:
                ours = DocumentSigner(credential, settings, level, trust_anchors=(credential.root,))
                theirs = simple_sign(level)
                count = args.docs if level is PadesLevel.B_B else max(4, args.docs // 2)
                for pages, data in documents.items():
                    batch = [data] * count
                    ours.sign(data), theirs(data)  # warm up: font caches, HTTP connections, imports
                    best_ours = best_theirs = 0.0
                    for _round in range(args.rounds):
                        best_ours = max(best_ours, rate(ours.sign, batch))
                        best_theirs = max(best_theirs, rate(theirs, batch))
                    print(f"| {level.value} | {pages} | {best_ours:.1f} | {best_theirs:.1f} | "
                          f"**{best_ours / best_theirs:.2f}×** | {1000 / best_ours:.1f} |", flush=True)


if __name__ == "__main__":
    main()
