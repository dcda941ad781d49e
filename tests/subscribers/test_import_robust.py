"""One bad row costs one row: oversized cells, broken quotes, control characters (issue 10, 14)."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from mailer.db import session_scope
from subscribers import lists
from subscribers.csvlines import MAX_ROW
from subscribers.errors import ImportFailed
from subscribers.importer import import_csv
from subscribers.models import Subscriber


@pytest.fixture
def news(engine: Engine) -> str:
    with session_scope(engine) as s:
        lists.create_list(s, "news")
    return "news"


def emails(session: Session) -> list[str]:
    return sorted(session.scalars(select(Subscriber.email)))


def rejected(report: object) -> list[tuple[int, str, str]]:
    return [(r.line, r.email, r.reason) for r in report.rejected]  # type: ignore[attr-defined]


def test_a_ten_megabyte_cell_rejects_its_row_only(
    session: Session, news: str, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email,name,note\r\na@example.org,A,ok\r\n")
        f.write("big@example.org,Big," + "x" * 10_000_000 + "\r\n")
        f.write('huge@example.org,Huge,"' + "y" * 10_000_000 + '"\r\n')
        f.write("b@example.org,B,ok\r\n")
    report = import_csv(session, path, news)
    assert emails(session) == ["a@example.org", "b@example.org"]
    assert rejected(report) == [
        (3, "big@example.org", f"the row is longer than {MAX_ROW:,} characters"),
        (4, "huge@example.org", f"the row is longer than {MAX_ROW:,} characters"),
    ]


@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r"])
def test_a_quote_never_closed_rejects_its_row_and_the_rest_imports(
    session: Session, news: str, tmp_path: Path, eol: str
) -> None:
    rows = [
        "email,name",
        "a@example.org,A",
        '"broken@example.org","Li Wei',  # the quoted cell ends at the line break
        "b@example.org,B",
        '"c@example.org","C ""the third"""',
        'tail@example.org,"never closed',  # and at the very end of the file
    ]
    path = tmp_path / "quotes.csv"
    path.write_bytes(eol.join(rows).encode() + eol.encode())
    report = import_csv(session, path, news)
    assert emails(session) == ["a@example.org", "b@example.org", "c@example.org"]
    assert [(line, email) for line, email, _ in rejected(report)] == [
        (3, "broken@example.org"),
        (6, "tail@example.org"),
    ]
    assert "a quoted cell is not closed" in rejected(report)[0][2]


def test_a_quote_open_for_many_lines_gives_the_lines_back(
    session: Session, news: str, tmp_path: Path
) -> None:
    lines = ["email", '"open@example.org'] + [f"u{i}@example.org" for i in range(20_000)]
    path = tmp_path / "open.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_csv(session, path, news)
    assert [line for line, _, _ in rejected(report)] == [2]
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 20_000


def test_control_characters_in_names_are_rejected_tabs_allowed_in_attributes(
    session: Session, news: str, tmp_path: Path
) -> None:
    text = (
        "email,name,note\n"
        "esc@example.org,Eve\x1b[2J,\n"
        "bel@example.org,Bell\x07,\n"
        "csi@example.org,C1\x9b31m,\n"
        "tab@example.org,Tab\tName,\n"
        "del@example.org,,x\x7fy\n"
        "ok@example.org,Fine,a\tb\n"
    )
    path = tmp_path / "ctl.csv"
    path.write_text(text, encoding="utf-8")
    report = import_csv(session, path, news)
    assert emails(session) == ["ok@example.org"]
    assert rejected(report) == [
        (2, "esc@example.org", "name: contains the control character U+001B"),
        (3, "bel@example.org", "name: contains the control character U+0007"),
        (4, "csi@example.org", "name: contains the control character U+009B"),
        (5, "tab@example.org", "name: contains a tab"),
        (6, "del@example.org", "note: contains the control character U+007F"),
    ]


def test_not_utf8_names_the_real_offset_and_line(engine: Engine, news: str, tmp_path: Path) -> None:
    head = "email,name\n" + "".join(f"u{i}@example.org,Ü{i}\n" for i in range(5000))
    bad_line = b"z@example.org,Zo" + b"\xeb" + b"\n"
    data = head.encode() + bad_line + b"y@example.org,Y\n"
    path = tmp_path / "latin1.csv"
    path.write_bytes(data)
    offset = data.index(b"\xeb")
    with pytest.raises(ImportFailed) as caught, session_scope(engine) as s:
        import_csv(s, path, news)
    message = str(caught.value)
    assert f"byte 0xeb at byte offset {offset} (line 5002)" in message, message


def test_a_stream_imports_like_a_file(session: Session, news: str) -> None:
    stream = io.BytesIO("\ufeffemail,name\r\n李@example.org,李伟\r\n".encode())
    report = import_csv(session, stream, news, name="stdin")
    assert report.added == 1
    sub = session.scalar(select(Subscriber))
    assert sub is not None and sub.name == "李伟" and sub.consent_source == "import:stdin"


def test_rejected_rows_stay_on_disk_and_come_out_in_line_order(
    session: Session, news: str, tmp_path: Path
) -> None:
    from subscribers import members

    members.suppress(session, "trap@example.org")
    text = "email\nbad1\ntrap@example.org\nbad2\nok@example.org\n"
    path = tmp_path / "mixed.csv"
    path.write_text(text, encoding="utf-8")
    report = import_csv(session, path, news)
    assert [line for line, _, _ in rejected(report)] == [2, 3, 4]
    assert len(report.rejected) == report.rejected_count == 3
    assert report.as_dict()["rejected"][1]["reason"] == "address is suppressed; not subscribed"
    report.rejected.close()


RSS_CHILD = """
import json, resource, sys
from pathlib import Path
from mailer.db import make_engine, session_scope, upgrade
from subscribers.importer import import_csv
from subscribers.lists import create_list
engine = make_engine(f"sqlite:///{sys.argv[2]}")
upgrade(engine)
with session_scope(engine) as s:
    create_list(s, "news")
with session_scope(engine) as s:
    report = import_csv(s, Path(sys.argv[1]), "news")
    n = report.rejected_count
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rejected": n, "rss_kib": rss}))
"""


def bad_rows_file(path: Path, megabytes: int) -> int:
    """Rows that fail the cheap checks (field count, control characters, long quotes)."""
    row = 'x@example.org,one,two,three\nesc@example.org,\x1b\n"open@example.org,\n'
    count = megabytes * 1_000_000 // len(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email,name\n")
        for _ in range(count // 1000):
            f.write(row * 1000)
    return count // 1000 * 1000 * 3


def test_peak_memory_is_flat_in_the_number_of_bad_rows(tmp_path: Path) -> None:
    results = {}
    for megabytes in (2, 20):
        path = tmp_path / f"bad-{megabytes}.csv"
        expected = bad_rows_file(path, megabytes)
        out = subprocess.run(
            [sys.executable, "-c", RSS_CHILD, str(path), str(tmp_path / f"{megabytes}.db")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[megabytes] = json.loads(out)
        assert results[megabytes]["rejected"] == expected
    ratio = results[20]["rss_kib"] / results[2]["rss_kib"]
    # Ten times the bad rows; rejections in memory would make this several times larger.
    assert ratio < 1.25, results
