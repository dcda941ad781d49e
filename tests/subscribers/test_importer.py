from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from mailer.db import session_scope
from subscribers import lists, members
from subscribers.errors import ImportFailed, NotFound
from subscribers.importer import import_csv
from subscribers.models import Subscriber, Subscription

MESSY = (
    "\ufeffEmail,Name,language,Country, Organisation \r\n"  # BOM, odd case and spaces
    "li.wei@example.org,Li Wei,zh-CN,CN,MEE\r\n"
    "not-an-address,Nobody,,,\r\n"
    "LI.WEI@EXAMPLE.ORG,,,,FECO\r\n"  # duplicate: merges, blank cells keep values
    '"somchai@example.co.th","Somchai ""Tom"" S.",th,TH,"ONEP, Thailand"\r\n'
    "\r\n"  # blank line
    '"eve@example.org","Eve\r\nBcc: victim@example.org",en,,\r\n'  # CR/LF inside a field
    "nul@example.org,Nul\x00Byte,,,\r\n"
    "toolong" + "x" * 60 + "@example.org,Long,,,\r\n"
    "extra@example.org,Extra,en,VN,MONRE,surplus\r\n"
    "short@example.org,Short\r\n"  # missing trailing cells are blank
    "bad-lang@example.org,Bad,english please,,\r\n"
    "用户@例子.广告,Yonghu,zh,,\r\n"
)


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture
def news(engine: Engine) -> str:
    with session_scope(engine) as s:
        lists.create_list(s, "news")
    return "news"


def test_messy_file_imports_good_rows_and_reports_bad_ones(
    session: Session, news: str, tmp_path: Path
) -> None:
    report = import_csv(session, write(tmp_path, MESSY), news)
    rejected = {(r.line, r.email): r.reason for r in report.rejected}
    assert set(rejected) == {
        (3, "not-an-address"),
        (7, "eve@example.org"),
        (9, "nul@example.org"),
        (10, "toolong" + "x" * 60 + "@example.org"),
        (11, "extra@example.org"),
        (13, "bad-lang@example.org"),
    }
    assert "@-sign" in rejected[(3, "not-an-address")]
    assert rejected[(7, "eve@example.org")] == "Name: contains a line break or NUL character"
    assert "Name" in rejected[(9, "nul@example.org")]
    assert "too long" in rejected[(10, "toolong" + "x" * 60 + "@example.org")]
    assert "6 fields; the header has 5" in rejected[(11, "extra@example.org")]
    assert rejected[(13, "bad-lang@example.org")].startswith("language:")
    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    assert report.duplicates == 1

    li = session.scalar(
        select(Subscriber).where(Subscriber.email_normalized == "li.wei@example.org")
    )
    assert li is not None
    assert (li.email, li.name, li.language) == ("li.wei@example.org", "Li Wei", "zh-CN")
    assert li.attributes == {"Country": "CN", "Organisation": "FECO"}
    assert li.consent_source == "import:people.csv"
    som = members.describe(session, "somchai@example.co.th")["subscriber"]
    assert som["name"] == 'Somchai "Tom" S.'
    assert som["attributes"]["Organisation"] == "ONEP, Thailand"
    assert som["subscriptions"][0]["status"] == "unconfirmed"  # double opt-in list


def test_same_import_twice_changes_nothing(engine: Engine, news: str, tmp_path: Path) -> None:
    path = write(tmp_path, MESSY)
    with session_scope(engine) as s:
        import_csv(s, path, news)
    with session_scope(engine) as s:
        before = [tuple(r) for r in s.execute(select(Subscriber).order_by(Subscriber.id)).all()]
        stamps = list(s.scalars(select(Subscriber.updated_at).order_by(Subscriber.id)))
    with session_scope(engine) as s:
        report = import_csv(s, path, news)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 4)
    assert len(report.rejected) == 6
    with session_scope(engine) as s:
        assert list(s.scalars(select(Subscriber.updated_at).order_by(Subscriber.id))) == stamps
        assert len(before) == s.scalar(select(func.count()).select_from(Subscriber))


def test_updates_against_the_database(session: Session, news: str, tmp_path: Path) -> None:
    members.add_subscriber(session, "a@example.org", news, name="Old", attributes={"k": "1"})
    members.add_subscriber(session, "b@example.org", news)
    members.add_subscriber(session, "c@example.org", news, confirmed=True)
    lists.create_list(session, "other")
    members.add_subscriber(session, "d@example.org", "other")
    text = "email,name,k\nA@EXAMPLE.ORG,New,2\nb@example.org,,\nc@example.org,,\nd@example.org,D,\n"
    report = import_csv(session, write(tmp_path, text), news, confirmed=True)
    # a: name and attribute changed; b: unconfirmed -> confirmed; c: nothing;
    # d: already a subscriber, but new to this list.
    assert (report.added, report.updated, report.unchanged) == (1, 2, 1)
    session.expire_all()
    a = members.describe(session, "a@example.org")["subscriber"]
    assert a["name"] == "New" and a["attributes"] == {"k": "2"}
    rows = session.execute(
        select(Subscriber.email, Subscription.status)
        .join(Subscription)
        .where(Subscription.list_id == lists.get_list(session, news).id)
    )
    statuses = {email: status for email, status in rows}
    assert statuses == {
        "a@example.org": "confirmed",
        "b@example.org": "confirmed",
        "c@example.org": "confirmed",
        "d@example.org": "confirmed",
    }


def test_suppressed_and_unsubscribed_are_never_resubscribed(
    session: Session, news: str, tmp_path: Path
) -> None:
    members.add_subscriber(session, "left@example.org", news)
    members.unsubscribe(session, "left@example.org", news)
    members.add_subscriber(session, "gone@example.org", news)
    members.erase(session, "gone@example.org")
    members.suppress(session, "trap@example.org")
    text = "email\nleft@example.org\nGone@Example.org\ntrap@example.org\nok@example.org\n"
    report = import_csv(session, write(tmp_path, text), news, confirmed=True)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (2, "unsubscribed from this list; not resubscribed"),
        (3, "address is suppressed; not subscribed"),
        (4, "address is suppressed; not subscribed"),
    ]
    assert report.added == 1
    assert members.find_subscriber(session, "gone@example.org") is None
    left = members.describe(session, "left@example.org")["subscriber"]
    assert left["subscriptions"][0]["status"] == "unsubscribed"


def test_duplicates_across_chunks_merge_in_file_order(
    session: Session, news: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("subscribers.importer.CHUNK", 3)
    rows = ["email,name,city,lang"] + [f"u{i}@example.org,U{i},,en" for i in range(10)]
    rows += ["U1@example.org,,Hanoi,", "u1@example.org,Final,,vi", "u1@example.org,,,"]
    report = import_csv(session, write(tmp_path, "\n".join(rows) + "\n"), news)
    assert (report.added, report.duplicates) == (10, 3)
    u1 = members.describe(session, "u1@example.org")["subscriber"]
    assert (u1["email"], u1["name"], u1["attributes"]) == (
        "u1@example.org",
        "Final",
        {"city": "Hanoi", "lang": "vi"},
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"name,city\nx,y\n", "no 'email' column"),
        (b"email,name,Name\n", "twice"),
        (b"email,,x\n", "no name"),
        (b"email,9lives\n", "header row"),
    ],
)
def test_fatal_header_problems(
    engine: Engine, news: str, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFailed, match=message), session_scope(engine) as s:
        import_csv(s, path, news)


def test_bad_encoding_late_in_the_file_writes_nothing(
    engine: Engine, news: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("subscribers.importer.CHUNK", 2)
    good = "".join(f"u{i}@example.org,U{i}\n" for i in range(50)).encode()
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"email,name\n" + good + "z@example.org,Zoë\n".encode("latin-1"))
    with pytest.raises(ImportFailed, match="not UTF-8"), session_scope(engine) as s:
        import_csv(s, path, news)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_missing_file_and_unknown_list(session: Session, news: str, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="cannot read"):
        import_csv(session, tmp_path / "nope.csv", news)
    with pytest.raises(NotFound):
        import_csv(session, write(tmp_path, "email\na@example.org\n"), "nope")


def test_progress_reports_bytes(session: Session, news: str, tmp_path: Path) -> None:
    path = write(tmp_path, "email\n" + "".join(f"p{i}@example.org\n" for i in range(100)))
    seen: list[int] = []
    import_csv(session, path, news, progress=seen.append)
    assert seen[-1] == path.stat().st_size
