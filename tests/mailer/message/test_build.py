import email
import email.policy
import time
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from mailer.bounces.mailto import mailto_maker
from mailer.message import Recipient
from mailer.message.build import message_id, rfc5322_date
from tests.mailer.helpers import SECRET, factory

ONE_EACH = ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version")


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_structure_and_headers() -> None:
    f = factory(
        feedback_id="42:lmec-news:mailer",
        unsubscribe_mailto=mailto_maker("bounces@example.org", SECRET, 3),
    )
    r = Recipient(7, "li.wei@example.org", "Li Wei", {"country": "CN"})
    out = f.build(r)
    msg = parse(out.data)
    for name in ONE_EACH:
        assert len(msg.get_all(name) or []) == 1, name
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    values = f.values(r)
    assert parts[0].get_content().replace("\r\n", "\n") == f.variant.text.fill(values)
    assert parts[1].get_content().replace("\r\n", "\n") == f.variant.html.fill_html(values)
    # 7-bit clean, no line over 998 octets.
    assert max(out.data) < 128
    assert max(len(line) for line in out.data.split(b"\r\n")) <= 998
    assert b"\n" not in out.data.replace(b"\r\n", b"")
    # Bulk-mail headers.
    assert msg["List-Id"] == "LMEC Newsletter <lmec-news.example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Precedence"] == "bulk" and msg["Feedback-ID"] == "42:lmec-news:mailer"
    https, mailto = [x.strip(" <>") for x in str(msg["List-Unsubscribe"]).split(",")]
    assert https == values["unsubscribe_url"] and https.startswith(
        "https://news.example.org/unsubscribe/"
    )
    assert mailto.startswith("mailto:bounces+u-7-3-") and mailto.endswith(
        "@example.org?subject=unsubscribe"
    )
    assert out.envelope_to == "li.wei@example.org" and not out.smtputf8


def test_message_id_fixed_per_campaign_and_subscriber() -> None:
    f = factory()
    a1 = f.build(Recipient(1, "a@example.org")).message_id
    assert a1 == f.build(Recipient(1, "a@example.org")).message_id
    assert a1 == message_id("42", 1, "example.org", SECRET)
    assert a1 != f.build(Recipient(2, "b@example.org")).message_id
    assert a1 != factory(campaign_key="43").build(Recipient(1, "a@example.org")).message_id
    assert parse(f.build(Recipient(1, "a@example.org")).data)["Message-ID"] == a1


@pytest.mark.parametrize(
    "name",
    [
        "李伟",
        "Doe, John",
        'Mr "Quote" Smith',
        '李, 伟 "x"',
        "Ünïcødé, Ltd.",
        "Long, Name " * 12,
        "长名字，" * 30,
    ],
)
def test_display_names_round_trip_and_never_add_recipients(name: str) -> None:
    msg = parse(factory().build(Recipient(1, "one@example.org", name)).data)
    addresses = msg["To"].addresses
    assert len(addresses) == 1 and addresses[0].addr_spec == "one@example.org"
    # The phrase decodes back to the name exactly (the stdlib's display_name
    # drops quote marks inside decoded encoded-words, so decode by hand).
    raw = email.message_from_bytes(factory().build(Recipient(1, "one@example.org", name)).data)[
        "To"
    ]
    phrase = raw.replace("\r\n", "").replace("\n", "").rsplit(" <", 1)[0]
    decoded = str(make_header(decode_header(phrase)))
    if decoded.startswith('"'):  # a quoted-string for plain ASCII names
        decoded = decoded[1:-1].replace('\\"', '"')
    assert decoded == " ".join(name.split())  # runs of spaces fold to one
    sender = msg["From"].addresses
    assert len(sender) == 1 and sender[0].display_name == "LMEC 澜湄环境合作中心"


def test_chinese_subject_is_encoded_and_decodes_exactly() -> None:
    from mailer.message.headers import fold

    subject = "澜沧江-湄公河环境合作中心通讯 2021年第7期：专家观点" * 2
    line = fold("Subject", subject)
    assert max(line) < 128 and all(len(x) <= 78 for x in line.split(b"\r\n"))
    raw = line.decode().split(":", 1)[1]
    assert str(make_header(decode_header(raw))) == subject


@pytest.mark.parametrize(
    "evil", ["Eve\r\nBcc: victim@example.org", "Eve\nX-Injected: 1", "Eve\rX: y\x00"]
)
def test_cr_lf_in_a_name_never_makes_a_header(evil: str) -> None:
    msg = parse(factory().build(Recipient(1, "eve@example.org", evil)).data)
    assert msg["Bcc"] is None and msg["X-Injected"] is None and msg["X"] is None
    assert len(msg["To"].addresses) == 1


def test_cr_lf_in_a_subject_prefix_never_makes_a_header() -> None:
    msg = parse(
        factory(subject_prefix="[TEST]\r\nBcc: victim@example.org ")
        .build(Recipient(1, "a@example.org"))
        .data
    )
    assert msg["Bcc"] is None
    assert str(msg["Subject"]).startswith("[TEST] Bcc: victim@example.org LMEC Newsletter")


def test_non_ascii_local_part_needs_smtputf8() -> None:
    out = factory().build(Recipient(1, "用户@例子.广告", "用户"))
    assert out.smtputf8
    assert "用户@例子.广告".encode() in out.data
    idn = factory().build(Recipient(1, "x@bücher.de", "X"))
    assert not idn.smtputf8 and b"x@xn--bcher-kva.de" in idn.data


@pytest.mark.parametrize(
    "timestamps",
    [
        [1_800_000_000, 1_800_000_000.5, 1_800_000_000.9999994, 1_800_000_001.25],
        # Within the last microsecond fromtimestamp may round up to the next second.
        [1_800_000_000.2, 1_800_000_000.9999996, 1_800_000_000.999999, 1_800_000_000.9999989],
        [1_800_000_005.5, 1_800_000_004.5, 1_800_000_005.0],  # a clock stepped back
        [0, -0.5, -1.9999996, 2**31 + 0.25, 253_402_300_799.75],
    ],
)
def test_the_date_header_is_format_datetimes_second_after_second(
    timestamps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The text is kept for the second it was made in: each change must show.
    for t in timestamps:
        expected = format_datetime(datetime.fromtimestamp(t, UTC))
        assert rfc5322_date(t) == expected, t
        monkeypatch.setattr(time, "time", lambda t=t: t)
        assert rfc5322_date() == expected, t


def test_threads_sharing_a_factory_build_what_one_thread_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The per-second caches (the Date header, the tokens' timestamp, the DKIM
    # tags) are shared by a run's delivery threads. Here each thread has a
    # clock of its own whose second changes at every message, so a build
    # keeps meeting what another thread just kept for another second.
    import sys
    import threading

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from mailer.message import DkimSigner

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    f = factory(DkimSigner("ed2026", "example.org", pem))
    clock = threading.local()
    monkeypatch.setattr(time, "time", lambda: clock.now)
    built: dict[tuple[int, int], tuple[float, bytes]] = {}

    def work(k: int) -> None:
        for i in range(60):
            clock.now = 1_800_000_000 + (i + k) % 3 + 0.25 * k
            r = Recipient(1000 * k + i, f"u{k}.{i}@example.org", "Ann", {}, f"key{i}")
            built[(k, i)] = (clock.now, f.build(r).data)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads trade places as often as they can
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(built) == 240
    for (k, i), (now, data) in built.items():
        clock.now = now
        r = Recipient(1000 * k + i, f"u{k}.{i}@example.org", "Ann", {}, f"key{i}")
        assert f.build(r).data == data, (k, i)
