"""Inbox previews: screenshots of the real message in Debian's Chromium (Playwright)."""

import struct
import zlib
from pathlib import Path

import pytest

from mailer.compose import SAMPLE
from mailer.content import load_issue_set
from mailer.preview import PreviewError, find_chromium, message_parts, write_previews
from tests.browser import chromium_path
from tests.mailer.helpers import factory

TABLE_ISSUE = """---
subject: "Projects"
preheader: "Projects, budgets and partners at a glance"
---
| Project | Country | Budget (USD) |
|---|---|---:|
| Green Silk Road envoys | Cambodia | 120,000 |
| Clean water villages | Myanmar | 64,500 |
"""


def png_size_and_first_pixel(path: Path) -> tuple[int, int, tuple[int, ...]]:
    """Width, height and the first row's pixel at x=4 (a tiny decoder: no Pillow here)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompressobj().decompress(idat, 1 + width * channels)
    kind, row = raw[0], bytearray(raw[1 : 1 + width * channels])
    # First row: the row above is zeros, so Up is none and Avg/Paeth reduce to Sub.
    for i in range(channels, len(row)):
        left = row[i - channels]
        row[i] = (row[i] + (left // 2 if kind == 3 else left if kind in (1, 4) else 0)) & 255
    x = 4 * channels
    return width, height, tuple(row[x : x + 3])


def test_previews_at_desktop_phone_and_dark(tmp_path: Path) -> None:
    chromium = chromium_path()
    data = factory().build(SAMPLE).data
    files = write_previews(data, tmp_path / "out", chromium)
    names = sorted(f.name for f in files)
    assert names == ["dark.png", "desktop.png", "message.eml", "phone.png", "text.txt"]
    sizes = {n: png_size_and_first_pixel(tmp_path / "out" / n) for n in names if n.endswith("png")}
    assert sizes["desktop.png"][0] == 600 and sizes["dark.png"][0] == 600
    assert sizes["phone.png"][0] == 375
    # Full page: the phone's narrower column makes the page longer.
    assert sizes["phone.png"][1] > sizes["desktop.png"][1] > 2000
    # The page background: light #eef2f0, and dark #101614 under prefers-color-scheme: dark.
    assert sizes["desktop.png"][2] == (0xEE, 0xF2, 0xF0)
    assert sizes["dark.png"][2] == (0x10, 0x16, 0x14)
    html, text = message_parts(data)
    assert (tmp_path / "out/text.txt").read_text(encoding="utf-8") == text.replace("\r\n", "\n")
    assert (tmp_path / "out/message.eml").read_bytes() == data
    assert "Lancang-Mekong Environmental Cooperation Center" in text and "<html" in html


def test_markdown_tables_are_styled_in_the_email_layout(tmp_path: Path) -> None:
    from mailer.render import Audience, prepare_issue

    path = tmp_path / "t.md"
    path.write_text(TABLE_ISSUE, encoding="utf-8")
    prepared = prepare_issue(
        load_issue_set(path), Audience("L", "l", "Org", "Street 1", "https://x.example")
    )
    html = prepared.for_language(None).html.fill_html({})
    table = html[html.index('<table class="data-table"') :]
    table = table[: table.index("</table>")]
    assert 'width="100%"' in table and 'cellpadding="0"' in table
    assert "border-collapse:collapse" in table.replace(" ", "")
    assert "border-bottom:2px solid #0b5d4b" in table  # th, inlined
    assert "border-bottom:1px solid #d5e3de" in table  # td, inlined
    assert "text-align:right" in table  # Markdown's alignment kept


def test_missing_chromium_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="no Chromium found at /nowhere/chromium"):
        find_chromium("/nowhere/chromium")
