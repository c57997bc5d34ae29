"""HTML pieces of the report: escaping, number formats, tables, embedded images, the page style.

Everything returns a string of HTML; nothing reads results files (that is `maskflow.report.build`)
except `image`, which embeds a figure at the size it is shown: scaled down to DISPLAY_WIDTH and
stored as a PALETTE_COLOURS-colour palette PNG. The figures under results/ keep their full
resolution and colours; the report is what is mailed and opened, and full-size figures made the
default experiment's report 9.3 MB.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from maskflow.errors import DataError

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1320px;margin:0 auto;padding:1em 2em 4em}
nav{background:#24364b;color:#fff;padding:.6em 2em}nav a{color:#cfe3ff;margin-right:1em;text-decoration:none}
h1{margin:.4em 0}h2{border-bottom:2px solid #24364b;padding-bottom:.2em;margin-top:2.2em}
h3{margin-top:1.8em;color:#24364b}h4{margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.86em;background:#fff}
th,td{border:1px solid #ccd;padding:.25em .55em;text-align:right;vertical-align:top}
th{background:#e8eef5}td.text,th.text{text-align:left}
figure{margin:1em 0;background:#fff;border:1px solid #dde;padding:.6em;display:inline-block;max-width:100%}
figure img{max-width:100%;height:auto;display:block}details.model{border-top:1px solid #dde;margin:0}
details.model>summary{padding:.5em 0;font-size:1.05em}details.model[open]>summary{font-weight:600}figcaption{font-size:.85em;color:#555;margin-top:.4em;max-width:900px}
.muted{color:#777}.good{color:#1a7f37;font-weight:600}.warn{color:#b35900}
code,pre{background:#eef;padding:.1em .3em;border-radius:3px;font-size:.88em}pre{padding:.6em;overflow-x:auto;white-space:pre-wrap}
.scroll{overflow-x:auto;max-width:100%}.scroll table{font-size:.8em}.scroll th,.scroll td{padding:.2em .35em}.scroll td.text{overflow-wrap:anywhere;min-width:4em}details{margin:.5em 0}summary{cursor:pointer;color:#24364b}
dl.settings{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;font-size:.88em}dl.settings dt{font-weight:600}dl.settings dd{margin:0}
"""

# Sets data attributes on <body> once the page has loaded: how many images, and whether every
# one decoded (naturalWidth > 0). The Chromium test reads them back with --dump-dom.
IMAGE_CHECK = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  document.body.setAttribute('data-images-total', String(images.length));
  document.body.setAttribute('data-images-broken', String(broken.length));
  document.body.setAttribute('data-images-ok', broken.length === 0 ? 'yes' : 'no');
});
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers for tables: floats to `digits` decimals, p-values in 3 significant digits, None as a dash."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 10**-digits or value == 0 else f"{value:.2e}"
    return str(value)


def fmt_p(value: Any) -> str:
    """p-values in 3 significant digits (0.0312, 1.2e-05): small ones are the interesting ones."""
    return "–" if value is None or pd.isna(value) else f"{float(value):.3g}"


def table(rows: Iterable[dict], columns: dict[str, str], text_columns: Iterable[str] = ()) -> str:
    """An HTML table of dict rows; `columns` maps keys to headers; text columns align left."""
    text_columns = set(text_columns)
    head = "".join(f'<th class="{"text" if k in text_columns else ""}">{esc(v)}</th>' for k, v in columns.items())
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"text" if k in text_columns else ""}">{row[k] if str(k).endswith("_html") else esc(fmt(row.get(k)))}</td>'
            for k in columns
        )
        body.append(f"<tr>{cells}</tr>")
    # Wide tables scroll inside their own box instead of stretching the page.
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


# The widest a figure is shown (px; the <img> width attribute): 900 px keeps every figure's
# text readable, and the 1,000-1,450 px wide figures cost up to twice the pixels.
DISPLAY_WIDTH = 900
# Colours of an embedded figure: enough for plots, colour maps and crops at report size (photos
# posterize a little); about a third fewer bytes than the 256 the files under results/ keep.
PALETTE_COLOURS = 96


def display_png(path: Path, max_width: int = DISPLAY_WIDTH) -> tuple[bytes, int, int]:
    """(PNG bytes, width, height) of a figure as the report shows it: at most `max_width` wide, palette."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as source:
            source.load()
            picture = source.convert("RGBA")
    except (OSError, UnidentifiedImageError) as error:
        raise DataError(f"{path}: figure for the report cannot be read as an image ({error})") from error
    # Flatten onto white (matplotlib saves RGBA; a palette keeps no partial transparency).
    canvas = Image.new("RGB", picture.size, "white")
    canvas.paste(picture, mask=picture.getchannel("A"))
    if canvas.width > max_width:
        # Area averaging: no ringing, so no new colours around lines and text (Lanczos adds
        # them, and they cost the palette PNG more bytes than the pixels saved).
        canvas = canvas.resize((max_width, max(1, round(canvas.height * max_width / canvas.width))), Image.BOX)
    # No dithering: its noise compresses badly and blurs text.
    palette = canvas.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), canvas.width, canvas.height


# While `embed_figures` builds a page, `image` leaves a token per figure here and the figures
# are shrunk together afterwards, several at a time (they are most of the report's CPU time).
_pending: list[tuple[Path, str, str]] | None = None
_TOKEN = f"<!--figure {secrets.token_hex(8)} " + "{}-->"  # a nonce no text of the page can hold


def _figure(data: bytes, width: int, height: int, alt: str, caption: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    text = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="data:image/png;base64,{encoded}" width="{width}" height="{height}" alt="{esc(alt)}"'
        f' loading="eager">{text}</figure>'
    )


def image(path: str | Path, alt: str, caption: str = "") -> str:
    """A PNG embedded as a data URI (the report must open offline, as one file), at its display size."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: figure for the report not found")
    if _pending is not None:
        _pending.append((path, alt, caption))
        return _TOKEN.format(len(_pending) - 1)
    return _figure(*display_png(path), alt, caption)


def embed_figures(build: Callable[[], str], workers: int = 1) -> str:
    """The page `build()` returns, with every figure it embeds through `image` shrunk by `workers`
    processes at once (the same bytes as one at a time)."""
    global _pending
    _pending = []
    try:
        page = build()
        figures = _pending
    finally:
        _pending = None
    paths = [path for path, _, _ in figures]
    if workers > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(paths))) as pool:
            shrunk = list(pool.map(display_png, paths, chunksize=max(1, len(paths) // (workers * 4))))
    else:
        shrunk = [display_png(path) for path in paths]
    html_of = [_figure(*displayed, alt, caption) for displayed, (_, alt, caption) in zip(shrunk, figures)]
    token = re.compile(re.escape(_TOKEN.format("@")).replace("@", "([0-9]+)"))
    return token.sub(lambda match: html_of[int(match.group(1))], page)


def settings_list(items: dict[str, Any]) -> str:
    cells = "".join(
        f"<dt>{esc(k)}</dt><dd><code>{esc(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)}</code></dd>"
        for k, v in items.items()
    )
    return f'<dl class="settings">{cells}</dl>'


def anchor(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "_" for ch in p) for p in parts)
