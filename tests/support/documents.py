"""Test documents built here: a Vietnamese administrative document (Decree 30 layout) with an empty signature
field between the signer's position title and name, on its last page."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from signing.appearance import Placement
from signing.fonts import SERIF_CANDIDATES, find_font

PLACEHOLDER = "ChuKy_ChuTich"
TITLE = "CHỦ TỊCH"
SIGNER_NAME = "Nguyễn Thị Hồng Đào"
AGENCY = "ỦY BAN NHÂN DÂN TỈNH BÌNH PHƯỚC"
BODY = (
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư;",
    "Xét đề nghị của Giám đốc Sở Thông tin và Truyền thông,",
)
ARTICLES = (
    "Điều 1. Ban hành kèm theo Quyết định này Quy chế ký số văn bản điện tử trên địa bàn tỉnh.",
    "Điều 2. Quyết định có hiệu lực kể từ ngày ký; các văn bản trước đây trái với Quyết định này đều bãi bỏ.",
    "Điều 3. Chánh Văn phòng Ủy ban nhân dân tỉnh, thủ trưởng các sở, ban, ngành chịu trách nhiệm thi hành.",
)


@dataclass(frozen=True)
class OfficialDocument:
    data: bytes
    pages: int
    placeholder: str
    signature_area: Placement  # between the position title and the name, on the last page
    title_baseline: float
    name_baseline: float


def _fonts() -> tuple[str, str]:
    regular = find_font(SERIF_CANDIDATES)
    bold = regular.with_name(regular.name.replace("Regular", "Bold")) if "Regular" in regular.name else regular
    for name, path in (("DocSerif", regular), ("DocSerifBold", bold)):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(path)))
    return "DocSerif", "DocSerifBold"


def official_document(pages: int = 2, placeholder: bool = True, number: str = "123/QĐ-UBND") -> OfficialDocument:
    """A decision of a provincial People's Committee, `pages` long, signature block on the last page."""
    regular, bold = _fonts()
    width, height = A4
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(f"Quyết định {number}")
    for page in range(pages):
        if page == 0:
            pdf.setFont(bold, 12)
            pdf.drawCentredString(150, height - 70, "ỦY BAN NHÂN DÂN")
            pdf.drawCentredString(150, height - 85, "TỈNH BÌNH PHƯỚC")
            pdf.drawCentredString(410, height - 70, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
            pdf.drawCentredString(410, height - 85, "Độc lập - Tự do - Hạnh phúc")
            pdf.setFont(regular, 13)
            pdf.drawCentredString(150, height - 110, f"Số: {number}")
            pdf.drawCentredString(410, height - 110, "Bình Phước, ngày 23 tháng 11 năm 2026")
            pdf.setFont(bold, 14)
            pdf.drawCentredString(width / 2, height - 150, "QUYẾT ĐỊNH")
            pdf.setFont(bold, 13)
            pdf.drawCentredString(width / 2, height - 168, "Ban hành Quy chế ký số văn bản điện tử")
            y = height - 205
        else:
            pdf.setFont(regular, 11)
            pdf.drawCentredString(width / 2, height - 40, str(page + 1))
            y = height - 80
        pdf.setFont(regular, 13)
        for paragraph in BODY + ARTICLES:
            for line in simpleSplit(paragraph, regular, 13, width - 85 - 57):
                pdf.drawString(85, y, line)
                y -= 19
        if page == pages - 1:
            break
        pdf.showPage()
    # The signature block, on the right of the last page (Decree 30, Appendix I: title, signature, name).
    column = 410
    title_baseline = y - 40
    name_baseline = title_baseline - 110
    pdf.setFont(bold, 13)
    pdf.drawCentredString(column, title_baseline + 16, "TM. ỦY BAN NHÂN DÂN")
    pdf.drawCentredString(column, title_baseline, TITLE)
    pdf.drawCentredString(column, name_baseline, SIGNER_NAME)
    pdf.setFont(regular, 11)
    pdf.drawString(85, title_baseline + 16, "Nơi nhận:")
    pdf.drawString(85, title_baseline, "- Như Điều 3;")
    pdf.drawString(85, title_baseline - 14, "- Lưu: VT.")
    pdf.save()
    data = buffer.getvalue()
    area = Placement(pages - 1, (column - 80, name_baseline + 18, column + 80, title_baseline - 8))
    if placeholder:
        writer = IncrementalPdfFileWriter(BytesIO(data))
        append_signature_field(writer, SigFieldSpec(PLACEHOLDER, on_page=pages - 1, box=area.box))
        out = BytesIO()
        writer.write(out)
        data = out.getvalue()
    return OfficialDocument(data, pages, PLACEHOLDER, area, title_baseline, name_baseline)
