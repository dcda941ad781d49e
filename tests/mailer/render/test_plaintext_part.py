"""The plain-text part: underlines by display width, footer wrapped, names that fit."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from mailer.content import load_issue_set
from mailer.content.plaintext import width_of
from mailer.message import MessageFactory, Recipient
from mailer.render import Audience, prepare_issue
from subscribers.tokens import Tokens
from tests.mailer.helpers import SECRET, sender

LONG_AUDIENCE = Audience(
    "Lancang-Mekong Environmental Cooperation Center Newsletter",
    "news",
    "Lancang-Mekong Environmental Cooperation Center (LMEC)",
    "No.5 Houyingfang Hutong, Xicheng District, Beijing 100035, People's Republic of China",
    "https://n.example",
)
PARAGRAPH = (
    "Dear {{ subscriber.name }}, thank you for reading the newsletter of the "
    "Lancang-Mekong Environmental Cooperation Center; this issue covers the forum on "
    "climate change, biodiversity and green development held in Kunming this autumn.\n"
)
LONG_NAME = "Maria-Magdalena Alexandrovna Konstantinopolous-Wittgenstein"


def _variant(tmp_path: Path, body: str, title: str = "Hi", language: str = "en"):  # type: ignore[no-untyped-def]
    path = tmp_path / "a.md"
    path.write_text(
        f"---\nsubject: S\ntitle: {title}\nlanguage: {language}\n---\n{body}", encoding="utf-8"
    )
    return prepare_issue(load_issue_set(path), LONG_AUDIENCE).for_language(None)


def _too_wide(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if width_of(ln) > 78 and "https://" not in ln]


def test_title_underline_matches_display_width(tmp_path: Path) -> None:
    text = _variant(tmp_path, "正文\n", title="澜湄环境合作中心简报", language="zh").text.fill({})
    lines = text.splitlines()
    i = lines.index("澜湄环境合作中心简报")
    assert lines[i + 1] == "=" * 20
    long = "A title that is long enough to need wrapping over two lines of the plain text part"
    text = _variant(tmp_path, "Body\n", title=long).text.fill({})
    underline = next(ln for ln in text.splitlines() if ln.startswith("==="))
    assert len(underline) <= 78 and set(underline) == {"="}


def test_footer_lines_wrap_at_78(tmp_path: Path) -> None:
    text = _variant(tmp_path, "Body\n").text.fill({"unsubscribe_url": "https://n.example/u/T"})
    assert _too_wide(text) == []
    assert "Sent by: Lancang-Mekong Environmental Cooperation Center (LMEC), No.5" in text


def test_a_long_name_filled_in_is_wrapped_again(tmp_path: Path) -> None:
    variant = _variant(tmp_path, PARAGRAPH)
    short = variant.text.fill({"name": "Li"})
    assert _too_wide(short) == [] and "Dear Li, thank you" in short
    long = variant.text.fill({"name": LONG_NAME})
    assert _too_wide(long) == []
    squeezed = " ".join(long.split())
    assert f"Dear {LONG_NAME}, thank you for reading" in squeezed
    assert "held in Kunming this autumn." in squeezed
    # The same in the message that is sent.
    factory = MessageFactory(variant, sender(), Tokens(SECRET))
    data = factory.build(Recipient(1, "m@example.org", LONG_NAME)).data
    msg = email.message_from_bytes(data, policy=email.policy.default)
    sent = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert _too_wide(sent) == [] and LONG_NAME in sent


def test_list_items_keep_their_indent_when_wrapped_again(tmp_path: Path) -> None:
    body = "- For {{ subscriber.name }}: " + "words " * 10 + "\n"
    text = _variant(tmp_path, body).text.fill({"name": LONG_NAME})
    item = re.search(r"^- For .*?(?=\n\n|\n--)", text, re.S | re.M)
    assert item is not None
    lines = item.group().splitlines()
    assert len(lines) > 1 and all(ln.startswith("  ") for ln in lines[1:])
    assert _too_wide(text) == []
