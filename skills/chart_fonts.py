"""Fonts for charts: DejaVu Sans (inside matplotlib) for Latin text, Noto Sans CJK SC for Chinese, Japanese and
Korean names, falling back per character.

The CJK font comes from the `manimgx-fonts-cjk` package (Noto Sans CJK, SIL Open Font License 1.1) as a variable
collection whose default instance is the thinnest weight, and making a regular-weight copy of the whole font takes
minutes. So each chart gets a small font of only the characters it draws: subset, then instanced at regular weight
(about a second), cached on disk by its character set and renamed (the OFL lets a modified copy be used under
another name).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

LATIN_FAMILY = "DejaVu Sans"
CJK_FACE = "Noto Sans CJK SC"  # the simplified-Chinese face of the collection
REGULAR_WEIGHT = 400
_registered: set[str] = set()


def needs_cjk(char: str) -> bool:
    """Characters DejaVu Sans lacks and Noto Sans CJK has: CJK ideographs, kana, hangul, full-width forms."""
    code = ord(char)
    return (0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF
            or 0xFE30 <= code <= 0xFE4F or 0xFF00 <= code <= 0xFFEF or 0x20000 <= code <= 0x3FFFF)


def cjk_collection() -> Path | None:
    try:
        import manimgx_fonts_cjk
    except ImportError:
        return None
    path = Path(manimgx_fonts_cjk.__file__).with_name("NotoSansCJK-VF.otf.ttc")
    return path if path.is_file() else None


def default_cache_dir() -> Path:
    """Per user: a directory another account made in the shared temporary directory may not be writable."""
    user = getattr(os, "getuid", lambda: "")()
    return Path(tempfile.gettempdir()) / f"kam-chart-fonts-{user}"


def font_families(texts: Iterable[str], cache_dir: Path | None = None) -> list[str]:
    """The font.family list for a chart drawing `texts`: Latin first, then a CJK font holding their CJK characters
    (left out when there are none, or when the CJK font package is missing: those characters then show as boxes)."""
    chars = sorted({c for t in texts for c in t if needs_cjk(c)})
    if not chars:
        return [LATIN_FAMILY]
    try:
        family = _cjk_subset("".join(chars), cache_dir or default_cache_dir())
    except OSError as exc:  # no writable cache: the chart still renders, those characters as boxes
        log.warning("no CJK font for the chart (%s): Chinese names will not render", exc)
        family = None
    return [LATIN_FAMILY, family] if family else [LATIN_FAMILY]


def _cjk_subset(chars: str, cache_dir: Path) -> str | None:
    from matplotlib import font_manager

    source = cjk_collection()
    if source is None:
        log.warning("manimgx-fonts-cjk is not installed: Chinese names on charts will not render")
        return None
    digest = hashlib.sha1(chars.encode()).hexdigest()[:12]
    family = f"KAM CJK {digest}"
    path = cache_dir / f"kam-cjk-{digest}.otf"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_subset(source, chars, family, path)
    if family not in _registered:
        font_manager.fontManager.addfont(str(path))
        _registered.add(family)
    return family


def _write_subset(source: Path, chars: str, family: str, path: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont
    from fontTools.varLib import instancer

    index = next((i for i, f in enumerate(TTCollection(str(source), lazy=True).fonts)
                  if f["name"].getDebugName(1) == CJK_FACE), 0)
    font = TTFont(str(source), fontNumber=index, lazy=True)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    if "fvar" in font:
        font = instancer.instantiateVariableFont(font, {"wght": REGULAR_WEIGHT})
    names = font["name"]
    for name_id, value in ((1, family), (4, family), (16, family), (6, family.replace(" ", "-"))):
        for record in list(names.names):
            if record.nameID == name_id:
                names.setName(value, name_id, record.platformID, record.platEncID, record.langID)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    font.save(str(tmp))
    os.replace(tmp, path)  # atomic: a concurrent chart never reads half a font
