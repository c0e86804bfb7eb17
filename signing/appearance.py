"""Decree 30/2020/ND-CP, Appendix I: where and how a visible signature looks on an administrative document.

- competent person: their handwritten-signature image (blue, transparent), centred between the position
  title and the name, in a box the caller gives or in a named empty signature field (the placeholder);
- organisation: the seal image (red, transparent) at the seal's real size, covering about one third of the
  personal signature image, on its left;
- electronic copies (SAO Y, SAO LỤC, TRÍCH SAO) and attachments: no image; text at the top right of the first
  page in a Times-New-Roman-style serif, 10 pt, upright, black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from PIL import Image
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import BaseStampStyle, StaticStampStyle, TextStampStyle

from signing.assets import DEMO_SEAL, DEMO_SEAL_DIAMETER_MM, DEMO_SIGNATURE
from signing.errors import SigningError

VIETNAM = timezone(timedelta(hours=7), "ICT")
POINTS_PER_MM = 72 / 25.4
COPY_FORMS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")
NOTICE_FONT_SIZE = 10
NOTICE_LEADING = 12  # whole points (see notice_box)
# Top-right corner of the notice, inside the page margin (Decree 30 margins: top 20–25 mm, right 15–20 mm).
NOTICE_TOP_MM = 6
NOTICE_RIGHT_MM = 15
SEAL_OVERLAP = 1 / 3

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in PDF points from the page's lower left


@dataclass(frozen=True)
class Placement:
    """A box on a page (0-based page index)."""

    page: int
    box: Box

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class PersonalSignature:
    """The competent person's signature: their image, in `placement` or in the empty field `placeholder`."""

    image: Path = DEMO_SIGNATURE
    placement: Placement | None = None
    placeholder: str | None = None

    def __post_init__(self) -> None:
        if (self.placement is None) == (self.placeholder is None):
            raise SigningError(
                "Cần đúng một trong: vị trí (trang và khung) hoặc tên ô chữ ký có sẵn",
                "give exactly one of a placement (page and box) or the name of an existing signature field",
            )


@dataclass(frozen=True)
class OrganizationSeal:
    """The organisation's seal over the personal signature; `diameter_mm` is the real seal's size."""

    image: Path = DEMO_SEAL
    diameter_mm: float = DEMO_SEAL_DIAMETER_MM


@dataclass(frozen=True)
class CopyNotice:
    """An electronic copy: form of copy, copying organisation, signing time."""

    form: str
    organization: str

    def __post_init__(self) -> None:
        if self.form not in COPY_FORMS:
            raise SigningError(
                f"Hình thức sao phải là một trong: {', '.join(COPY_FORMS)}",
                f"the form of copy must be one of {', '.join(COPY_FORMS)}, got {self.form!r}",
            )
        if not self.organization.strip():
            raise SigningError("Thiếu tên cơ quan sao văn bản", "the copying organisation is required")

    def lines(self, signing_time: datetime) -> list[str]:
        return [self.form, self.organization, vietnam_iso(signing_time)]


@dataclass(frozen=True)
class AttachmentNotice:
    """An attachment in a separate file: number and symbol of the document it belongs to, signing time."""

    number_and_symbol: str

    def __post_init__(self) -> None:
        if not self.number_and_symbol.strip():
            raise SigningError("Thiếu số và ký hiệu văn bản", "the document number and symbol are required")

    def lines(self, signing_time: datetime) -> list[str]:
        return [self.number_and_symbol, vietnam_iso(signing_time)]


Appearance = PersonalSignature | OrganizationSeal | CopyNotice | AttachmentNotice


def vietnam_iso(moment: datetime) -> str:
    """ISO 8601 in Vietnam time with its offset, e.g. 2026-11-23T17:05:09+07:00."""
    return moment.astimezone(VIETNAM).isoformat(timespec="seconds")


@lru_cache(maxsize=16)
def _load_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGBA") if image.mode not in ("RGBA", "LA") else image.copy()
    except OSError as exc:
        raise SigningError(f"Không đọc được ảnh {path.name}", f"cannot read the image {path}: {exc}") from exc


def image_aspect(path: Path) -> float:
    """Width over height of an image."""
    image = _load_image(path)
    return image.width / image.height


def fit_to_aspect(box: Box, aspect: float) -> Box:
    """The largest box of the given aspect centred in `box` (so the widget is exactly the drawn image)."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    if width <= 0 or height <= 0:
        raise SigningError("Khung chữ ký không hợp lệ", f"the signature box {box} has no area")
    if width / height > aspect:
        new_width = height * aspect
        x1 += (width - new_width) / 2
        return (round(x1, 2), y1, round(x1 + new_width, 2), y2)
    new_height = width / aspect
    y1 += (height - new_height) / 2
    return (x1, round(y1, 2), x2, round(y1 + new_height, 2))


def seal_box(personal_image_box: Box, diameter_mm: float) -> Box:
    """The seal at its real size, vertically centred on the signature image, its right edge one third in."""
    x1, y1, x2, y2 = personal_image_box
    diameter = diameter_mm * POINTS_PER_MM
    right = x1 + (x2 - x1) * SEAL_OVERLAP
    middle = (y1 + y2) / 2
    half = diameter / 2
    return (round(right - diameter, 2), round(middle - half, 2), round(right, 2), round(middle + half, 2))


def image_stamp_style(path: Path) -> BaseStampStyle:
    """The image alone, fully opaque where the PNG is, no border; built per signature (pyHanko mutates it)."""
    return StaticStampStyle(
        background=PdfImage(_load_image(path).copy()),
        background_opacity=1.0,
        border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
    )


def notice_stamp_style(font: Path) -> TextStampStyle:
    """Black 10 pt serif text, no border, no background; the text comes in as the `notice` parameter."""
    return TextStampStyle(
        stamp_text="%(notice)s",
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(str(font), font_size=NOTICE_FONT_SIZE),
            font_size=NOTICE_FONT_SIZE,
            leading=NOTICE_LEADING,
            text_color=(0, 0, 0),
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MAX,
                margins=layout.Margins.uniform(0),
                inner_content_scaling=layout.InnerScaling.NO_SCALING,
            ),
        ),
        border_width=0,
        background=None,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        ),
    )


def notice_box(lines: list[str], font: Path, page_width: float, page_height: float) -> Box:
    """Top right of the page, wide enough for the longest line."""
    from PIL import ImageFont

    measure = ImageFont.truetype(str(font), 1000)
    width = max(measure.getlength(line) for line in lines) / 1000 * NOTICE_FONT_SIZE + 4
    height = NOTICE_LEADING * len(lines) + 4
    # Whole points: pyHanko's text layout does exact (Fraction) arithmetic on the box and refuses floats.
    x2 = int(page_width - NOTICE_RIGHT_MM * POINTS_PER_MM)
    y2 = int(page_height - NOTICE_TOP_MM * POINTS_PER_MM)
    return (x2 - math.ceil(width), y2 - math.ceil(height), x2, y2)
