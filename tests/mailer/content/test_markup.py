from mailer.content.markup import to_html, to_text
from mailer.content.plaintext import width_of, wrap

SOURCE = """\
## Heading

A paragraph with [a link](https://example.org/a) and [another](https://example.org/b),
and <https://example.org/plain> written out, long enough to need wrapping at seventy-eight.

::: speaker Chen Zihua | Director of the Department of Climate Change
As a responsible major country, China has always proactively assumed and fulfilled.
:::

::: contact
E-mail: <someone@example.org>
:::
"""


def test_html_has_styled_blocks() -> None:
    html = to_html(SOURCE)
    assert '<table role="presentation" class="speaker"' in html
    assert '<p class="speaker-name">Chen Zihua</p>' in html
    assert '<p class="speaker-title">Director of the Department of Climate Change</p>' in html
    assert '<div class="contact">' in html
    assert 'href="mailto:someone@example.org"' in html


def test_text_is_wrapped_and_lists_links() -> None:
    text, links = to_text(SOURCE)
    assert all(width_of(line) <= 78 for line in text.splitlines())
    assert "a link [1] and another [2]" in text
    assert "https://example.org/plain" in text  # shown as written, not numbered
    assert links == ["https://example.org/a", "https://example.org/b"]
    assert "CHEN ZIHUA\nDirector of the Department of Climate Change" in text


def test_wrap_counts_wide_characters_twice() -> None:
    lines = wrap("澜沧江-湄公河环境合作中心" * 8, 40)
    assert all(width_of(line) <= 40 for line in lines)
    assert "".join(lines) == "澜沧江-湄公河环境合作中心" * 8
    assert wrap("word " * 30, 20) == ["word word word word"] * 7 + ["word word"]
