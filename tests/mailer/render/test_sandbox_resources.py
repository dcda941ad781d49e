"""An issue author tries to exhaust CPU or memory with a few lines of Jinja.

Each template below is refused with a clear template error on its line.
Before this file's fixes each rendered: nested loops and recursive macros
that write nothing ran for as long as the author liked (the output limit
never trips), and one line made as much text as it asked for through a
``str`` method (``'x'.ljust(10**8)``), through a container holding one long
string many times once turned into text, or through text kept with
``list.append`` in a loop. The sizes here are the smallest that show it
(about 100 MB each on the old code), not the gigabytes an attacker would use;
``tracemalloc`` checks that nothing that large was made before the refusal.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from mailer.content import load_issue_set
from mailer.errors import ContentError
from mailer.render import Audience, prepare_issue

AUDIENCE = Audience("News", "news", base_url="https://n.example")
BIG = "{% set big = 'x' * 999999 %}"
FROMKEYS = "{% set d = {}.fromkeys(range(999), 'x' * 99999) %}"
BOMBS = [
    # CPU: 2 million loop steps, 131,071 macro calls, 256,000-bit integers.
    "{% for i in range(2000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(16) }}",
    "{% set ns = namespace(n=2**4000) %}{% for i in range(6) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}",
    # Memory: str methods the filter guards did not see.
    "{{ 'x'.ljust(10**8)|length }}",
    "{{ 'x'.zfill(10**8)|length }}",
    "{{ ('\t' * 99999).expandtabs(1000)|length }}",
    "{{ ('x' * 999999).replace('x', 'xx')|length }}",
    "{{ ('x' * 999999).translate({120: 'yy'})|length }}",
    BIG + "{{ ''.join([big] * 100)|length }}",
    # Memory: one long string many times, then turned into text.
    "{{ ['x' * 99999] * 999 }}",
    FROMKEYS + "{{ d }}",
    FROMKEYS + "{{ d|string|length }}",
    FROMKEYS + "{{ (d ~ '')|length }}",
    FROMKEYS + "{{ ('%s' % (d,))|length }}",
    FROMKEYS + "{{ '{}'.format(d)|length }}",
    FROMKEYS + "{{ d.values()|join|length }}",
    # Memory: new text kept in a loop.
    "{% set l = [] %}{% for i in range(100) %}{{ l.append('x' * 999999) or '' }}{% endfor %}",
]


def _issue(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "evil.md"
    path.write_text(f"---\nsubject: Hi\ndate: 2026-01-05\n---\nHello\n\n{body}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("body", BOMBS, ids=[b[-60:] for b in BOMBS])
def test_a_resource_bomb_is_a_template_error_on_its_line(tmp_path: Path, body: str) -> None:
    path = _issue(tmp_path, body)
    issues = load_issue_set(path)
    tracemalloc.start()
    try:
        with pytest.raises(ContentError) as err:
            prepare_issue(issues, AUDIENCE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Refused before it was made: within the 20 MB budget of a render, not 100 MB.
    assert peak < 30_000_000, f"{peak:,} bytes at the peak"
    assert str(err.value).startswith(f"{path}:7: template error: "), str(err.value)
    assert "MemoryError" not in str(err.value)


def test_ordinary_loops_macros_and_lists_still_render(tmp_path: Path) -> None:
    body = (
        "{% macro item(n) %}<li>{{ n }}</li>{% endmacro %}"
        "{% for i in range(2000) %}{{ item(i) if i < 3 }}{% endfor %}"
        "{% for x in [[1, [2]]] recursive %}{{ loop(x) if x is iterable else x }}{% endfor %}"
        "{{ (['ab'] * 1000)|join(',')|length }} {{ 'x'.ljust(20) }}|{{ ','.join(['a', 'b']) }}"
        "{% set l = [] %}{% for i in range(50) %}{{ l.append(i) or '' }}{% endfor %}{{ l|sum }}"
    )
    prepared = prepare_issue(load_issue_set(_issue(tmp_path, body)), AUDIENCE)
    html = prepared.for_language(None).html.fill_html({"name": "n"})
    assert "<li>2</li>" in html and "12" in html and "2999" in html
    assert "x                   |a,b" in html and "1225" in html


def test_steps_of_any_cost_stop_at_the_cpu_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few steps, each long (``x in`` a list of 100,000): the CPU clock stops it.

    The limit is lowered for the test; the template takes seconds without it.
    """
    import mailer.render.sandbox as sandbox

    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.3)
    body = "{% set l = range(100000)|list %}{% for i in range(5000) %}{{ -1 in l }}{% endfor %}"
    path = _issue(tmp_path, body)
    with pytest.raises(ContentError, match="seconds of CPU") as err:
        prepare_issue(load_issue_set(path), AUDIENCE)
    assert str(err.value).startswith(f"{path}:7: template error: ")
