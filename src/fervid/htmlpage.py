"""Self-contained HTML pages: one file, inline CSS, images as data URIs, real ``<table>`` s.

Nothing is fetched when the page opens (no CDN, no script, no server), so a page works offline
and can be mailed or archived as one file. Every piece of text goes through :func:`esc`.
Numeric cells carry their exact value in ``data-value`` so that tools (and the browser tests)
can compare a table with the JSON it came from.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable, Sequence

import numpy as np

from fervid.writes import atomic_write_bytes

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.6rem; }
th { background: #f3f3f3; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; background: #fafafa; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
.warn { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5rem 0.8rem; }
.strip { display: flex; flex-wrap: wrap; gap: 0.5rem; } .strip figure { margin: 0; text-align: center; }
figcaption { font-size: 0.8rem; color: #555; } img.plot { max-width: 100%; }
img.crop { width: 112px; height: 112px; image-rendering: auto; }
img.frames { height: 64px; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_bytes(rgb: np.ndarray) -> bytes:
    """uint8 ``(H, W, 3)`` RGB → PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return buf.getvalue()


def img(data: bytes, alt: str, *, cls: str = "plot", mime: str = "image/png") -> str:
    return f'<img class="{esc(cls)}" alt="{esc(alt)}" src="{data_uri(data, mime)}">'


def figure(data: bytes, caption: str, *, alt: str | None = None, cls: str = "crop") -> str:
    return f"<figure>{img(data, alt or caption, cls=cls)}<figcaption>{esc(caption)}</figcaption></figure>"


class Num:
    """A numeric cell: ``text`` shown, ``value`` kept exactly in ``data-value``."""

    def __init__(self, value: float | None, text: str):
        self.value, self.text = value, text

    def td(self) -> str:
        if self.value is None:
            return f'<td class="num">{esc(self.text)}</td>'
        exact = str(int(self.value)) if isinstance(self.value, (int, np.integer)) else repr(float(self.value))
        return f'<td class="num" data-value="{exact}">{esc(self.text)}</td>'


class Markup:
    """A cell of HTML the caller built from escaped parts (an image)."""

    def __init__(self, html: str):
        self.html = html

    def td(self) -> str:
        return f"<td>{self.html}</td>"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence],
    *,
    caption: str | None = None,
    total_rows: Sequence[int] = (),
    table_id: str | None = None,
) -> str:
    """An HTML table; cells are text (escaped), :class:`Num` or :class:`Markup`; rows indexed in
    ``total_rows`` are emphasised."""
    attr = f' id="{esc(table_id)}"' if table_id else ""
    out = [f"<table{attr}>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cells = "".join(c.td() if isinstance(c, (Num, Markup)) else f"<td>{esc(c)}</td>" for c in row)
        out.append(f'<tr class="total">{cells}</tr>' if i in total_rows else f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def page(title: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def write_page(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
