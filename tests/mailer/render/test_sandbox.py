"""An issue author tries known Jinja escapes: each fails with file:line or renders nothing harmful.

An audit hook watches the render: no file outside templates/ is opened, no
process started, nothing removed or written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from mailer.content import load_issue_set
from mailer.errors import ContentError
from mailer.render import Audience, prepare_issue
from mailer.render.context import template_context
from mailer.render.sandbox import plain
from mailer.render.split import Sentinels
from mailer.resources import templates_dir

AUDIENCE = Audience("News", "news", base_url="https://n.example")
SECRET = "CANARY-7f3c2a-do-not-leak"
WATCHED = ("open", "os.system", "os.exec", "os.posix_spawn", "subprocess.Popen", "os.remove")
_seen: list[tuple[str, tuple[Any, ...]]] = []
_watching = [False]


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _watching[0] and event.startswith(WATCHED):
        _seen.append((event, args))


sys.addaudithook(_hook)

# (template line, must it fail?) — {canary} and {target} are absolute paths.
ESCAPES = [
    ("{{ issue.path.parent.joinpath('{canary}').read_text() }}", True),
    ("{{ issue.path.write_text('pwned') }}", True),
    ("{{ issue.__class__.__mro__[1].__subclasses__() }}", True),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", True),
    ("{{ ''|attr('__class__')|attr('__mro__') }}", True),
    ("{{ (issue|attr('items'))() }}", False),
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", True),
    ("{{ joiner.__init__.__globals__ }}", True),
    ("{{ lipsum.__globals__['os'].popen('id').read() }}", True),
    ("{{ lipsum(n=100000) }}", True),
    ("{{ namespace.__init__.__globals__ }}", True),
    ("{% set ns = namespace() %}{{ ns._Namespace__attrs }}", True),
    ("{{ self._TemplateReference__context }}", True),
    ("{{ self.__init__.__globals__ }}", True),
    ("{{ subscriber.attributes._make.__globals__ }}", True),
    ("{{ subscriber.attributes.items.__self__ }}", True),
    ("{{ '{0.__class__.__mro__}'.format(issue) }}", True),
    ("{{ '{0.__init__.__globals__}'.format(cycler) }}", True),
    ("{{ '%s'|format(issue) }}", False),
    ("{{ '{:999999999}'.format(1) }}", True),
    ("{{ '{:{w}}'.format(1, w=999999999) }}", True),
    ("{{ '%999999999d' % 1 }}", True),
    ("{{ '%*d'|format(999999999, 1) }}", True),
    ("{{ range(10**9)|list|length }}", True),
    ("{{ 'x' * 10**9 }}", True),
    ("{{ [0] * 10**9 }}", True),
    ("{{ 10 ** (10 ** 10) }}", True),
    ("{{ 'x'|center(10**9) }}", True),
    ("{{ 'x'|indent(10**9) }}", True),
    ("{{ ('x' * 900000)|replace('x', 'yyyy') }}", True),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        True,
    ),
    ("{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}", True),
    ("{{ issue.date.strftime('%Y' * 600000) }}", True),
    ("{% include '{canary}' %}", True),
    ("{% import '{canary}' as c %}", True),
    ("{% extends '{canary}' %}", True),
    ("{{ settings.secret_key }}{{ config }}", True),
    ("{{ 1 / 0 }}", True),
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    canary = tmp_path / "secret" / "mailer.toml"
    canary.parent.mkdir()
    canary.write_text(f'secret_key = "{SECRET}"\n', encoding="utf-8")
    return canary, tmp_path / "secret" / "pwned"


def _issue(tmp_path: Path, body: str, suffix: str = ".md") -> Path:
    path = tmp_path / f"evil{suffix}"
    path.write_text(f"---\nsubject: Hi\ndate: 2026-01-05\n---\nHello\n\n{body}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("line", "must_fail"), ESCAPES, ids=[e[0][:60] for e in ESCAPES])
@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_known_escapes_fail_with_file_and_line_or_do_no_harm(
    tmp_path: Path, files: tuple[Path, Path], line: str, must_fail: bool, suffix: str
) -> None:
    canary, target = files
    body = line.replace("{canary}", str(canary)).replace("{target}", str(target))
    path = _issue(tmp_path, body, suffix)
    issues = load_issue_set(path)
    _seen.clear()
    _watching[0] = True
    try:
        prepared = prepare_issue(issues, AUDIENCE)
    except ContentError as exc:
        assert str(exc).startswith(f"{path}:7: template error: "), str(exc)
        assert exc.line == 7
        assert SECRET not in str(exc)
    else:
        assert not must_fail, "rendered, but should have been refused"
        variant = prepared.for_language(None)
        html = variant.html.fill_html({"name": "n"})
        text = variant.text.fill({"name": "n"})
        assert SECRET not in html and SECRET not in text
        assert len(html) < 1_000_000
    finally:
        _watching[0] = False
    assert not target.exists()
    # Templates, and modules Python imports lazily, may be opened; nothing else.
    allowed = (str(templates_dir()), sys.prefix, sys.base_prefix, str(Path(__file__).parents[3]))
    touched = [(e, a) for e, a in _seen if not (e == "open" and str(a[0]).startswith(allowed))]
    assert touched == []
    assert not any(str(canary) in str(a) for _, a in _seen)


def test_the_context_is_plain_data_only() -> None:
    issues = load_issue_set(
        Path(__file__).parents[3] / "examples" / "issues" / "lmec-2021-issue-7.md"
    )
    context = template_context(issues.default, AUDIENCE, Sentinels(), "https://v")
    assert plain(context) is context
    assert "path" not in context["issue"] and "source" not in context["issue"]
    for bad in (Path("/etc/passwd"), AUDIENCE, object(), {"k": [Path("/")]}):
        with pytest.raises(TypeError, match="not plain data"):
            plain({"x": bad})


def test_reading_a_file_through_the_issue_is_a_clear_error(tmp_path: Path) -> None:
    path = _issue(tmp_path, "{{ issue.path.parent.joinpath('/etc/passwd').read_text() }}")
    with pytest.raises(ContentError) as err:
        prepare_issue(load_issue_set(path), AUDIENCE)
    assert str(err.value) == f"{path}:7: template error: issue has no field 'path'"


def test_range_too_large_names_the_limit(tmp_path: Path) -> None:
    path = _issue(tmp_path, "{% for i in range(10**9) %}{% endfor %}")
    with pytest.raises(
        ContentError, match=r"evil.md:7: template error: range\(\) of 1,000,000,000"
    ):
        prepare_issue(load_issue_set(path), AUDIENCE)
