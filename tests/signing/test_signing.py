"""Signing official documents at B-B with Decree 30 appearances, checked by our validator, pdfsig and pyHanko."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import ImageFont
from pyhanko.sign.fields import MDPPerm

from ca.authority import CertificateAuthority
from ca.keys import SignatureScheme
from signing import appearance as d30
from signing.errors import FieldNotFound, SealNeedsPersonalSignature, SigningError
from signing.fonts import serif_font
from signing.signer import DocumentSigner, PadesLevel, SignatureRequest
from signing.validation import DocumentValidator, Verdict
from tests.signing.conftest import Signers, issue_signers
from tests.support.documents import SIGNER_NAME, OfficialDocument, official_document
from tests.support.pdfpeers import ARTIFACTS, nss_database, pdfsig, pdfsig_blocks, pyhanko_statuses, render_page

PERSONAL = SignatureRequest(appearance=d30.PersonalSignature(placeholder="ChuKy_ChuTich"))
SEAL = SignatureRequest(appearance=d30.OrganizationSeal())


def offline_validator(signers: Signers) -> DocumentValidator:
    """Our validator with our root; revocation is the business of the tests against the live PKI server."""
    return DocumentValidator(signers.authority.settings, (signers.root,), revocation="off")


def sign_and_seal(signers: Signers, document: OfficialDocument) -> tuple[bytes, bytes]:
    settings = signers.authority.settings
    personal = DocumentSigner(signers.official, settings).sign(document.data, PERSONAL).data
    sealed = DocumentSigner(signers.agency, settings).sign(personal, SEAL).data
    return personal, sealed


def test_competent_person_signs_into_the_placeholder_and_peers_agree(signers, document, tmp_path):
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL)
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed.data)

    report = offline_validator(signers).validate(signed.data)
    [signature] = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED
    assert signature.signer.name == SIGNER_NAME and signature.signer.identifier == "CCCD:070186000123"
    assert signature.signer.is_person and signature.level == "B-B" and signature.coverage == "entire-file"
    assert signature.field_name == "ChuKy_ChuTich" and signature.page == document.pages - 1

    [block] = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [signers.root])))
    assert "Signature is Valid." in block and "Total document signed" in block
    assert "ETSI.CAdES.detached" in block  # PAdES, not adbe.pkcs7.detached
    [status] = pyhanko_statuses(signed.data, [signers.root], revocation_mode="none")
    assert status.intact and status.valid and status.trusted and status.bottom_line


def test_signature_image_sits_centred_between_title_and_name(signers, document):
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL)
    [signature] = offline_validator(signers).validate(signed.data).signatures
    x1, y1, x2, y2 = signature.box
    area = document.signature_area.box
    assert document.name_baseline < y1 < y2 < document.title_baseline
    assert abs((x1 + x2) / 2 - (area[0] + area[2]) / 2) < 1  # horizontally centred on the signature block
    assert (x2 - x1) / (y2 - y1) == pytest.approx(d30.image_aspect(d30.DEMO_SIGNATURE), rel=0.02)


def test_personal_signature_at_a_box_given_by_the_caller(signers, document):
    request = SignatureRequest(appearance=d30.PersonalSignature(placement=d30.Placement(0, (350, 400, 500, 500))))
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, request)
    placed = [s for s in offline_validator(signers).validate(signed.data).signatures if s.field_name != "ChuKy_ChuTich"]
    assert placed[0].page == 0 and 350 <= placed[0].box[0] and placed[0].box[2] <= 500


def test_seal_goes_over_the_left_third_of_the_personal_signature_and_both_stay_valid(signers, document, tmp_path):
    _, sealed = sign_and_seal(signers, document)
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)

    report = offline_validator(signers).validate(sealed)
    personal, seal = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED
    assert personal.modification == "form-filling" and personal.coverage == "entire-revision"
    assert seal.signer.identifier == "MST:3800123456" and not seal.signer.is_person
    # Geometry: real seal size, its right edge one third into the signature image, vertically centred on it.
    diameter = d30.DEMO_SEAL_DIAMETER_MM * d30.POINTS_PER_MM
    assert seal.box[2] - seal.box[0] == pytest.approx(diameter, abs=0.1)
    third = personal.box[0] + (personal.box[2] - personal.box[0]) / 3
    assert seal.box[2] == pytest.approx(third, abs=0.1) and seal.box[0] < personal.box[0]
    assert (seal.box[1] + seal.box[3]) / 2 == pytest.approx((personal.box[1] + personal.box[3]) / 2, abs=0.1)

    blocks = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [signers.root])))
    assert all("Signature is Valid." in block for block in blocks) and len(blocks) == 2
    assert "Total document signed" in blocks[1]
    assert all(s.intact and s.valid and s.trusted for s in pyhanko_statuses(sealed, [signers.root], "none"))

    # What a reader sees: red ink to the left, overlapping the blue strokes, in the signature block.
    dpi = 100
    image = render_page(path, document.pages, ARTIFACTS / "decree30-personal-and-seal", dpi=dpi)
    scale = dpi / 72
    height = image.height
    red, blue = [], []
    for x in range(image.width):
        for y in range(int(height - personal.box[3] * scale - 80), int(height - personal.box[1] * scale + 80)):
            r, g, b = image.getpixel((x, y))
            if r > 150 and g < 110 and b < 110:
                red.append((x, y))
            elif b > 120 and r < 110 and g < 130:
                blue.append((x, y))
    assert len(red) > 500 and len(blue) > 200, "the stamp region is blank"
    red_x = sorted(x for x, _ in red)
    blue_x = sorted(x for x, _ in blue)
    assert sum(red_x) / len(red_x) < sum(blue_x) / len(blue_x)  # seal on the left
    assert red_x[-1] > blue_x[0]  # and over the signature, not beside it
    assert red_x[-1] < blue_x[0] + (blue_x[-1] - blue_x[0]) / 2  # over about a third, not the whole


def test_seal_is_refused_on_a_document_without_the_competent_persons_signature(signers, document):
    seal_signer = DocumentSigner(signers.agency, signers.authority.settings)
    with pytest.raises(SealNeedsPersonalSignature):
        seal_signer.sign(document.data, SEAL)
    # An organisation's own signature is not a competent person's either.
    invisible = seal_signer.sign(document.data, SignatureRequest()).data
    with pytest.raises(SealNeedsPersonalSignature):
        seal_signer.sign(invisible, SEAL)


def test_seal_is_refused_when_the_personal_signature_was_made_by_an_untrusted_ca(signers, document, sqlite_authority):
    from egov.db import get_database
    from egov.settings import Settings

    other_settings = Settings.from_env({"EGOV_DATA_DIR": str(sqlite_authority.settings.data_dir / "other"),
                                        "EGOV_KEY_PASSPHRASE": "another-passphrase-for-tests"})
    other = CertificateAuthority(other_settings, get_database(other_settings))
    other.init_hierarchy("test:setup")
    stranger = issue_signers(other)
    personal = DocumentSigner(stranger.official, other_settings).sign(document.data, PERSONAL).data
    with pytest.raises(SealNeedsPersonalSignature):
        DocumentSigner(signers.agency, signers.authority.settings).sign(personal, SEAL)


@pytest.mark.parametrize("form", d30.COPY_FORMS)
def test_copy_notice_is_text_at_the_top_right_of_the_first_page(signers, document, tmp_path, form):
    request = SignatureRequest(appearance=d30.CopyNotice(form, "Văn phòng Ủy ban nhân dân tỉnh Bình Phước"))
    signed = DocumentSigner(signers.agency, signers.authority.settings).sign(document.data, request)
    path = tmp_path / "copy.pdf"
    path.write_bytes(signed.data)
    [signature] = [s for s in offline_validator(signers).validate(signed.data).signatures if s.box and s.page == 0]
    x1, y1, x2, y2 = signature.box
    assert signature.verdict is Verdict.TOTAL_PASSED
    assert 595 - 15 * d30.POINTS_PER_MM - 1 <= x2 <= 595 - 15 * d30.POINTS_PER_MM + 1 and y2 > 800  # top right
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    stamp_time = d30.vietnam_iso(signed.signing_time)
    assert form in text and "Văn phòng Ủy ban nhân dân tỉnh Bình Phước" in text and stamp_time in text
    assert stamp_time.endswith("+07:00")
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    serif = [line for line in fonts.splitlines() if "Serif" in line and "CID TrueType" in line]
    assert serif and all(" yes " in line for line in serif)  # embedded
    if form == "SAO Y":
        render_page(path, 1, ARTIFACTS / "decree30-copy-notice", dpi=100)


def test_copy_notice_glyphs_have_true_widths(signers, document, tmp_path):
    """pyHanko mis-scales fonts whose unitsPerEm is not 1000: the words would come out ~2x too wide."""
    organization = "Ủy ban nhân dân tỉnh Bình Phước"
    request = SignatureRequest(appearance=d30.CopyNotice("SAO Y", organization))
    signed = DocumentSigner(signers.agency, signers.authority.settings).sign(document.data, request)
    path = tmp_path / "copy.pdf"
    path.write_bytes(signed.data)
    html = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-bbox", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    words = {m.group(5): float(m.group(3)) - float(m.group(1)) for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)</word>', html)}
    font = ImageFont.truetype(str(serif_font(signers.authority.settings.data_dir / "fonts")), 1000)
    # pyHanko draws each line as one run, so pdftotext sees a line as one "word".
    for line in ("SAO Y", organization):
        expected = font.getlength(line) / 100  # at 10 pt
        assert words[line] == pytest.approx(expected, rel=0.05), line


def test_attachment_notice_shows_number_and_symbol_and_time(signers, document, tmp_path):
    request = SignatureRequest(appearance=d30.AttachmentNotice("Phụ lục kèm theo Quyết định số 123/QĐ-UBND"))
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, request)
    path = tmp_path / "attachment.pdf"
    path.write_bytes(signed.data)
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "123/QĐ-UBND" in text and d30.vietnam_iso(signed.signing_time) in text


def test_certification_signature_locks_the_document(signers, document):
    settings = signers.authority.settings
    locked = DocumentSigner(signers.official, settings).sign(
        document.data, SignatureRequest(appearance=PERSONAL.appearance, certify=True, docmdp=MDPPerm.NO_CHANGES)
    ).data
    [signature] = offline_validator(signers).validate(locked).signatures
    assert signature.certification and signature.verdict is Verdict.TOTAL_PASSED
    with pytest.raises(SigningError):
        DocumentSigner(signers.agency, settings).sign(locked, SEAL)


def test_certified_for_form_filling_still_takes_the_seal_in_the_field_it_reserved(signers, document):
    """After a certification signature only existing fields may be signed, so certifying reserves the seal's."""
    settings = signers.authority.settings
    certified = DocumentSigner(signers.official, settings).sign(
        document.data, SignatureRequest(appearance=PERSONAL.appearance, certify=True, docmdp=MDPPerm.FILL_FORMS)
    ).data
    sealed = DocumentSigner(signers.agency, settings).sign(certified, SEAL).data
    personal, seal = offline_validator(signers).validate(sealed).signatures
    assert [personal.verdict, seal.verdict] == [Verdict.TOTAL_PASSED, Verdict.TOTAL_PASSED]
    assert personal.certification and seal.field_name == "DauCoQuan"
    third = personal.box[0] + (personal.box[2] - personal.box[0]) / 3
    assert seal.box[2] == pytest.approx(third, abs=0.1)


def test_signing_into_a_field_that_does_not_exist_is_refused(signers, document):
    request = SignatureRequest(appearance=d30.PersonalSignature(placeholder="KhongCo"))
    with pytest.raises(FieldNotFound):
        DocumentSigner(signers.official, signers.authority.settings).sign(document.data, request)


class CountingKey:
    """Wraps a SigningKey to count private-key operations."""

    def __init__(self, key):
        self.key, self.uri, self.signatures = key, key.uri, 0

    def public_key(self):
        return self.key.public_key()

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        self.signatures += 1
        return self.key.sign(data, scheme)

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        self.signatures += 1
        return self.key.sign_digest(digest, scheme)


def test_one_signer_signs_many_documents_with_one_key_operation_each(signers, monkeypatch):
    from dataclasses import replace

    import ca.keys

    key = CountingKey(signers.official.key)
    credential = replace(signers.official, key=key)
    loads = []
    monkeypatch.setattr(ca.keys, "load_key", lambda *a, **k: loads.append(a) or key)
    signer = DocumentSigner(credential, signers.authority.settings)
    documents = [official_document(pages=1, number=f"{n}/QĐ-UBND").data for n in range(4)]
    for data in documents:
        signer.sign(data, SignatureRequest())
    assert key.signatures == len(documents)  # no dry-run signature, no second pass
    assert loads == []  # the key was opened once, when the credential was loaded


@pytest.mark.pkcs11
def test_signing_with_a_key_in_the_hsm(sqlite_authority, document, tmp_path):
    hsm_signers = issue_signers(sqlite_authority, backend="pkcs11")
    assert hsm_signers.official.key.uri.startswith("pkcs11:")
    _, sealed = sign_and_seal(hsm_signers, document)
    report = offline_validator(hsm_signers).validate(sealed)
    assert report.verdict is Verdict.TOTAL_PASSED and len(report.signatures) == 2
    path = tmp_path / "hsm.pdf"
    path.write_bytes(sealed)
    blocks = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [hsm_signers.root])))
    assert all("Signature is Valid." in block for block in blocks)


@pytest.mark.parametrize("level", ["B-B", "b-lta", "LT", "B_T"])
def test_pades_levels_parse_from_what_people_type(level):
    assert PadesLevel.parse(level).value.startswith("B-")


def test_seal_image_is_drawn_at_real_size_from_the_generated_asset():
    from PIL import Image

    with Image.open(d30.DEMO_SEAL) as seal:
        assert seal.mode == "RGBA" and seal.getpixel((0, 0))[3] == 0  # transparent corners
        dpi = seal.info["dpi"][0]
        assert seal.width / dpi * 25.4 == pytest.approx(d30.DEMO_SEAL_DIAMETER_MM, abs=0.2)
    with Image.open(d30.DEMO_SIGNATURE) as signature:
        assert signature.mode == "RGBA"
        inked = [signature.getpixel((x, y)) for x in range(0, signature.width, 3)
                 for y in range(0, signature.height, 3)]
        r, g, b, _ = max((px for px in inked if px[3] > 200), key=lambda px: px[3])
        assert b > r and b > g  # blue ink


def test_demo_images_are_what_the_generator_draws(tmp_path):
    from PIL import Image, ImageChops

    from signing.assets.make_demo_images import draw_seal, draw_signature

    for draw, shipped in ((draw_signature, d30.DEMO_SIGNATURE), (draw_seal, d30.DEMO_SEAL)):
        fresh = draw(tmp_path / Path(shipped).name)
        with Image.open(fresh) as a, Image.open(shipped) as b:
            assert ImageChops.difference(a, b).getbbox() is None


def test_an_invisible_signature_can_fill_a_named_empty_field(signers, document):
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(
        document.data, SignatureRequest(field_name=document.placeholder)
    )
    [signature] = offline_validator(signers).validate(signed.data).signatures
    assert signature.field_name == document.placeholder and signature.verdict is Verdict.TOTAL_PASSED
