"""Draw the demo handwritten signature (blue) and organisation seal (red) as transparent PNGs.

Run `python -m signing.assets.make_demo_images` to regenerate them; the output is deterministic, so the
committed PNGs are exactly what this script draws. Neither image depicts any real person or agency.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from signing.assets import DEMO_SEAL, DEMO_SEAL_DIAMETER_MM, DEMO_SIGNATURE
from signing.fonts import SANS_BOLD_CANDIDATES, find_font

BLUE = (12, 40, 170, 255)
RED = (208, 16, 24, 255)
SUPERSAMPLE = 4
DPI = 300


def _signature_path(width: int, height: int) -> list[tuple[float, float]]:
    """A cursive-looking stroke: a run of loops with a rising baseline, then a long underline flourish."""
    points = []
    steps = 1400
    for i in range(steps):
        t = i / steps
        # Loops of uneven height and width, like a written name, on a baseline that rises to the right.
        swing = 0.6 + 0.4 * math.sin(2 * math.pi * 1.3 * t + 0.8)
        x = 0.08 + 0.74 * t + 0.05 * swing * math.sin(2 * math.pi * 5 * t)
        y = 0.56 - 0.14 * t + 0.26 * swing * math.cos(2 * math.pi * 5 * t)
        points.append((x * width, y * height))
    end_x, end_y = points[-1]
    for i in range(1, steps // 2):
        t = i / (steps // 2)
        # The flourish: back under the name in one smooth sweep.
        x = end_x / width + 0.06 * math.sin(math.pi * t) - (end_x / width - 0.12) * t
        y = end_y / height + (0.80 - end_y / height) * math.sin(math.pi / 2 * t)
        points.append((x * width, y * height))
    return points


def draw_signature(path: Path = DEMO_SIGNATURE, size: tuple[int, int] = (600, 240)) -> Path:
    width, height = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = _signature_path(width, height)
    for index in range(1, len(points)):
        # Pressure: the stroke thickens in the middle of each loop and thins at the ends.
        pressure = 0.55 + 0.45 * abs(math.sin(index / 70))
        draw.line([points[index - 1], points[index]], fill=BLUE, width=max(2, int(4.2 * SUPERSAMPLE * pressure)))
    image = image.resize(size, Image.LANCZOS)
    image.save(path, optimize=True, dpi=(DPI, DPI))
    return path


def _text_on_circle(image: Image.Image, text: str, font: ImageFont.FreeTypeFont, radius: float) -> None:
    """Letters upright along the top of a circle, reading left to right, centred on the top."""
    centre = image.width / 2
    widths = [font.getlength(ch) for ch in text]
    total_angle = sum(widths) / radius
    angle = -math.pi / 2 - total_angle / 2
    for ch, advance in zip(text, widths, strict=True):
        middle = angle + advance / radius / 2
        glyph = Image.new("RGBA", (int(font.size * 2), int(font.size * 2)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((glyph.width / 2, glyph.height / 2), ch, font=font, fill=RED, anchor="mm")
        rotated = glyph.rotate(-math.degrees(middle) - 90, resample=Image.BICUBIC)
        x = centre + radius * math.cos(middle) - rotated.width / 2
        y = centre + radius * math.sin(middle) - rotated.height / 2
        image.alpha_composite(rotated, (int(x), int(y)))
        angle += advance / radius


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    corners = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.4
        theta = -math.pi / 2 + k * math.pi / 5
        corners.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    draw.polygon(corners, fill=RED)


def draw_seal(
    path: Path = DEMO_SEAL,
    agency: str = "ỦY BAN NHÂN DÂN TỈNH MẪU THỬ",
    centre_text: str = "MẪU",
    diameter_mm: float = DEMO_SEAL_DIAMETER_MM,
) -> Path:
    """A round seal: double ring, the agency's name around the top, a star and a word in the middle."""
    pixels = round(diameter_mm / 25.4 * DPI)
    size = pixels * SUPERSAMPLE
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    ring = size * 0.022
    draw.ellipse([ring / 2, ring / 2, size - ring / 2, size - ring / 2], outline=RED, width=int(ring))
    inner = size * 0.30
    draw.ellipse([size / 2 - inner, size / 2 - inner, size / 2 + inner, size / 2 + inner], outline=RED,
                 width=int(ring * 0.6))
    font = ImageFont.truetype(str(find_font(SANS_BOLD_CANDIDATES)), int(size * 0.075))
    _text_on_circle(image, agency, font, radius=size * 0.40)
    _star(draw, size / 2, size / 2 - size * 0.07, size * 0.09)
    small = ImageFont.truetype(str(find_font(SANS_BOLD_CANDIDATES)), int(size * 0.07))
    draw.text((size / 2, size / 2 + size * 0.12), centre_text, font=small, fill=RED, anchor="mm")
    image = image.resize((pixels, pixels), Image.LANCZOS)
    image.save(path, optimize=True, dpi=(DPI, DPI))
    return path


def main() -> None:
    print(draw_signature())
    print(draw_seal())


if __name__ == "__main__":
    main()
