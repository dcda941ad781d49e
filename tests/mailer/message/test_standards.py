"""Issue 12, "standards to the letter": each rule checked on the bytes of a rendered message."""

import base64
import email
import email.policy
import re
from email.header import decode_header, make_header

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.bounces.mailto import mailto_maker
from mailer.compose import compose
from mailer.content import load_issue_set
from mailer.message import DkimSigner, Recipient
from mailer.message.body import qp
from mailer.message.headers import encode_words, fold
from mailer.settings import Settings
from subscribers.models import MailingList
from tests.mailer.helpers import EXAMPLE, factory

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
TOKEN = re.compile(r"/(unsubscribe|preferences)/[^\"]+")
LONG_ASCII = "Professor Doctor Somebody, Head of the Department of Very Long Names " * 2
LONG_CJK = "澜沧江-湄公河环境合作中心主任，生态环境部国际合作司" * 2


@pytest.fixture(scope="module")
def signer() -> tuple[DkimSigner, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimSigner("mail2026", "example.org", pem), b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def head_of(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def unfolded(head: bytes) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for field in re.split(rb"\r\n(?![ \t])", head.rstrip(b"\r\n")):
        name, _, value = field.partition(b":")
        out.setdefault(name.lower(), []).append(value.replace(b"\r\n", b"").strip())
    return out


def test_date_has_a_numeric_zone_not_gmt() -> None:
    data = factory().build(Recipient(1, "a@example.org"), date=1_800_000_000).data
    (date,) = unfolded(head_of(data))[b"date"]
    assert date == b"Fri, 15 Jan 2027 08:00:00 +0000"
    assert b"GMT" not in head_of(data)


@pytest.mark.parametrize("name", [LONG_CJK, "李伟", "Ünïcødé Ltd."])
def test_encoded_words_are_at_most_75_characters_and_decode_exactly(name: str) -> None:
    subject_prefix = "【测试】" + "澜湄环境合作中心通讯" * 4 + " "
    f = factory(subject_prefix=subject_prefix)
    data = f.build(Recipient(1, "a@example.org", name)).data
    head = head_of(data)
    words = ENCODED_WORD.findall(head)
    assert words and max(len(w) for w in words) <= 75
    fields = unfolded(head)
    subject = str(make_header(decode_header(fields[b"subject"][0].decode())))
    assert subject == subject_prefix + f.variant.issue.subject
    to = fields[b"to"][0].decode().rsplit(" <", 1)[0]
    assert str(make_header(decode_header(to))) == name


def test_encode_words_never_splits_a_character() -> None:
    for text in ["é" * 100, "😀" * 50, "a" + "中" * 80]:
        words = encode_words(text)
        assert all(len(w) <= 75 for w in words)
        assert "".join(base64.b64decode(w[10:-2]).decode("utf-8") for w in words) == text


def test_quoted_printable_lines_are_at_most_76_characters() -> None:
    # The line that ends a literal stretch got its soft-break "=" as a 77th character.
    for n in range(60, 160):
        encoded = qp("x" * n)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), n
        assert encoded.endswith(b"=\r\n")
    for n in range(60, 160):
        encoded = qp("é" * n)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), n
        assert encoded.replace(b"=\r\n", b"").decode("ascii").count("=C3=A9") == n
    f = factory()
    for sid in (1, 12, 123, 1234, 12345, 123456, 1234567):
        for name in ("", "A", "Li Wei", LONG_CJK):
            r = Recipient(sid, f"reader{sid}@example.org", name)
            data = f.build(r).data
            body = data.split(b"\r\n\r\n", 1)[1]
            assert max(len(line) for line in body.split(b"\r\n")) <= 76, (sid, name)
            msg = email.message_from_bytes(data, policy=email.policy.default)
            html = msg.get_body(("html",))
            assert html is not None
            # Decodes to the document exactly (link tokens carry a timestamp: masked).
            got = html.get_content().replace("\r\n", "\n")
            assert TOKEN.sub("T", got) == TOKEN.sub("T", f.variant.html.fill_html(f.values(r)))


@pytest.mark.parametrize("name", [LONG_ASCII, LONG_CJK, "Doe, John " * 8])
def test_header_lines_are_folded_at_78(name: str, signer: tuple[DkimSigner, bytes]) -> None:
    s, record = signer
    # With a bounce address, List-Unsubscribe carries the https link and a mailto.
    mailto = mailto_maker("bounces@news.example.org", "secret", 1)
    data = (
        factory(s, unsubscribe_mailto=mailto)
        .build(Recipient(77, "a.long.address@example.org", name))
        .data
    )
    head = head_of(data)
    # Over 78 only where no fold is possible: one token (the long unsubscribe
    # URL alone on its line; whitespace inside it would not be safe for every reader).
    long = [line for line in head.split(b"\r\n") if len(line) > 78]
    assert all(b" " not in line.strip() for line in long), head.decode()
    assert [line.strip()[:40] for line in long] == [b"<https://news.example.org/unsubscribe/Wz"]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    fields = unfolded(head)
    assert len(fields[b"list-unsubscribe"][0].split(b", ")) == 2
    msg = email.message_from_bytes(data, policy=email.policy.default)
    (address,) = msg["To"].addresses
    assert address.addr_spec == "a.long.address@example.org"
    assert dkim.verify(data, dnsfunc=lambda _name, timeout=5: record)
    # The DKIM h= list (over-signed: long) is folded too, and still verifies.
    assert b"h=" in fields[b"dkim-signature"][0]


def test_subject_folds_at_spaces_and_unfolds_to_the_same_text() -> None:
    subject = "A very long subject line " * 8
    line = fold("Subject", subject)
    assert max(len(x) for x in line.split(b"\r\n")) <= 78
    assert line.replace(b"\r\n", b"") == b"Subject: " + " ".join(subject.split()).encode()


def test_dkim_over_signs_so_an_added_header_fails(signer: tuple[DkimSigner, bytes]) -> None:
    s, record = signer

    def verifies(message: bytes) -> bool:
        return bool(dkim.verify(message, dnsfunc=lambda _name, timeout=5: record))

    data = factory(s).build(Recipient(5, "li.wei@example.org", "Li Wei")).data
    assert verifies(data)
    sig = unfolded(head_of(data))[b"dkim-signature"][0].decode()
    h = re.search(r"h=([^;]+);", sig)
    assert h is not None
    names = [n.strip() for n in h.group(1).split(":")]
    for over in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert names.count(over) == 2, over
    assert names.count("mime-version") == 1
    # A second Subject prepended above the signed one (what a forwarder or an
    # attacker adds, and what most clients show) now breaks the signature.
    assert not verifies(b"Subject: You won a prize\r\n" + data)
    head, body = data.split(b"\r\n\r\n", 1)
    for extra in (b"From: ceo@example.org", b"List-Unsubscribe: <https://evil.example/>"):
        assert not verifies(head + b"\r\n" + extra + b"\r\n\r\n" + body)


def test_feedback_id_template_reaches_the_header() -> None:
    settings = Settings(
        from_address="LMEC <news@example.org>",
        feedback_id="{campaign}:{list}:newsletter:{sender}",
    )
    ml = MailingList(id=3, slug="lmec-news", title="LMEC Newsletter", description="")
    comp = compose(load_issue_set(EXAMPLE), settings, ml, "42")
    data = comp.factory(None).build(Recipient(1, "a@example.org")).data
    assert b"\r\nFeedback-ID: 42:lmec-news:newsletter:example.org\r\n" in data
    none = compose(load_issue_set(EXAMPLE), Settings(feedback_id=""), ml, "42")
    assert b"Feedback-ID" not in none.factory(None).build(Recipient(1, "a@example.org")).data
