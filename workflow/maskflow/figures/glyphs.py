"""Text any figure can draw: photo names and class names in any script, with no missing glyph.

Matplotlib's default font (DejaVu Sans) has Latin, Greek and Cyrillic but no CJK; a photo named
`口罩.jpg` would be drawn as empty boxes with a "Glyph ... missing from font(s) DejaVu Sans"
warning. `displayable(text)` returns the text and the fonts to draw it with:

- the default font alone when it has every character;
- else the default font followed by installed fonts that have the missing characters
  (matplotlib falls back through the list glyph by glyph), e.g. Noto Sans CJK where installed;
- characters no installed font has are written as escapes (`\\u53e3`), only those, so the rest
  of the name stays readable and nothing is drawn as an empty box.

    text, font = displayable("маска 口罩.jpg")
    ax.set_title(text, **font)      # font: {} or {"fontfamily": [...]}
"""

from __future__ import annotations

import functools

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

# Fonts that draw every character as a placeholder box: they "have" every glyph but show none.
PLACEHOLDER_FONTS = frozenset({"Last Resort High-Efficiency", "LastResortHE"})


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError):  # an unreadable font file is a font without glyphs
        return frozenset()


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str], ...]:
    """(family name, file) of every installed font, in a fixed order (the choice is reproducible)."""
    entries = {(f.name, f.fname) for f in font_manager.fontManager.ttflist if f.name not in PLACEHOLDER_FONTS}
    return tuple(sorted(entries))


def escape(character: str) -> str:
    code = ord(character)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def displayable(text: str) -> tuple[str, dict]:
    """(text to draw, Text keyword arguments) so that every character of `text` has a glyph."""
    default = _charmap(font_manager.findfont(font_manager.FontProperties()))
    missing = {c for c in text if ord(c) not in default and not c.isspace()}
    if not missing:
        return text, {}
    families: list[str] = []
    covered: set[str] = set()
    for family, path in _installed():
        found = {c for c in missing - covered if ord(c) in _charmap(path)}
        if found and family not in families:
            families.append(family)
            covered |= found
        if covered == missing:
            break
    shown = "".join(escape(c) if c in missing and c not in covered else c for c in text)
    if not families:
        return shown, {}
    return shown, {"fontfamily": [*matplotlib.rcParams["font.family"], *families]}
