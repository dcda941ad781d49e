import csv
import io
from pathlib import Path

from sqlalchemy.orm import Session

from subscribers import lists, members
from subscribers.csvio import restore_cell, safe_cell
from subscribers.exporter import export_csv
from subscribers.importer import import_csv


def test_export_is_formula_safe_and_reimports_unchanged(session: Session, tmp_path: Path) -> None:
    lists.create_list(session, "news")
    lists.create_list(session, "other")
    members.add_subscriber(
        session,
        "a@example.org",
        "news",
        name='=HYPERLINK("x")',
        language="zh",
        attributes={"note": "+1 555", "org": "@corp"},
    )
    members.add_subscriber(
        session, "b@example.org", "news", name="-minus", attributes={"cmd": "=1+2"}
    )
    members.add_subscriber(session, "c@example.org", "other", name="Plain")
    out = io.StringIO()
    assert export_csv(session, out, "news") == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        ["email", "name", "language", "cmd", "note", "org"],
        ["a@example.org", '\'=HYPERLINK("x")', "zh", "", "'+1 555", "'@corp"],
        ["b@example.org", "'-minus", "", "'=1+2", "", ""],
    ]
    everyone = io.StringIO()
    assert export_csv(session, everyone) == 3

    path = tmp_path / "plain.csv"
    lists.create_list(session, "copy")
    plain = "email,name,language\na@example.org,Ann,zh\nb@example.org,,\n"
    path.write_text(plain, encoding="utf-8")
    import_csv(session, path, "copy")
    round_trip = io.StringIO()
    export_csv(session, round_trip, "copy", "unconfirmed")
    path.write_text(round_trip.getvalue(), encoding="utf-8")
    report = import_csv(session, path, "copy")
    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)


def test_safe_cell_and_restore_are_inverse() -> None:
    for value in ("=SUM(A1)", "+1", "-2", "@x", "\tlead", "\rlead", "plain", "", "'quoted"):
        assert restore_cell(safe_cell(value)) == value
    assert safe_cell("\tlead") == "'\tlead"
    assert safe_cell("'quoted") == "'quoted"
