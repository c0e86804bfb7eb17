"""Fonts with full Vietnamese coverage for signature appearances, rescaled to 1000 units per em for pyHanko.

pyHanko 0.38 writes glyph widths as if every font had 1000 units per em; DejaVu and Liberation have 2048, so
their text comes out about twice as wide as drawn. Rescaling the font once (fontTools `scale_upem`) fixes the
widths; the result is cached under the data directory and reused by every later process.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from signing.errors import SigningError

# "Times New Roman style" for copies and attachments: Liberation Serif is metric-compatible with Times New
# Roman; DejaVu Serif is the fallback (both cover Vietnamese). Sans for labels inside generated artwork.
SERIF_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
)
SANS_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
SANS_BOLD_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)
TARGET_UPEM = 1000

# pyHanko subsets the font into each signature; fontTools warns about tables it cannot subset (FFTM) on stderr.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

_lock = threading.Lock()
_done: dict[tuple[Path, Path], Path] = {}


def find_font(candidates: tuple[str, ...]) -> Path:
    for candidate in candidates:
        if Path(candidate).exists():
            return Path(candidate)
    raise SigningError(
        "Không tìm thấy phông chữ tiếng Việt (cài fonts-liberation2 hoặc fonts-dejavu-core)",
        f"no font with Vietnamese coverage found (install fonts-liberation2 or fonts-dejavu-core): {candidates[0]}",
    )


def rescaled_font(source: Path, cache_dir: Path) -> Path:
    """`source` with 1000 units per em, written once into `cache_dir` (atomically, so concurrent callers agree)."""
    key = (source, cache_dir)
    with _lock:
        if key in _done and _done[key].exists():
            return _done[key]
        from fontTools.ttLib import TTFont

        font = TTFont(str(source))
        if font["head"].unitsPerEm == TARGET_UPEM:
            _done[key] = source
            return source
        target = cache_dir / f"{source.stem}-{TARGET_UPEM}upem.ttf"
        if not target.exists():
            from fontTools.ttLib.scaleUpem import scale_upem

            scale_upem(font, TARGET_UPEM)
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            font.save(str(partial))
            os.replace(partial, target)
        _done[key] = target
        return target


def serif_font(cache_dir: Path) -> Path:
    """The Times-New-Roman-style serif (copies, attachments), ready for pyHanko."""
    return rescaled_font(find_font(SERIF_CANDIDATES), cache_dir)
