import base64
import email
import email.policy
import hashlib
import re
import time
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.bounces.mailto import mailto_maker
from mailer.errors import SettingsError
from mailer.message import DkimSigner, Recipient
from mailer.message.body import relaxed_body
from mailer.message.dkim import relaxed_header, selection, signed_names
from tests.mailer.helpers import SECRET, factory


@pytest.fixture(scope="module")
def keypair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dns_for(record: bytes):  # type: ignore[no-untyped-def]
    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail2026._domainkey.example.org."
        return record

    return dnsfunc


def test_signature_verifies_with_dkimpy_and_a_changed_body_fails(
    keypair: tuple[bytes, bytes],
) -> None:
    pem, record = keypair
    signer = DkimSigner("mail2026", "example.org", pem)
    for name in ("Li Wei", '李伟, "Boss"'):
        data = factory(signer).build(Recipient(9, "li.wei@example.org", name)).data
        assert dkim.verify(data, dnsfunc=dns_for(record))
    head = data.split(b"\r\n\r\n", 1)[0]
    sig = email.message_from_bytes(data, policy=email.policy.compat32)["DKIM-Signature"]
    tags = {
        k.strip(): v.strip()
        for k, v in (t.split("=", 1) for t in "".join(sig.split()).split(";") if t)
    }
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed"
    signed = tags["h"].split(":")
    for required in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert required in signed
    tampered = data.replace(b"Chen Zihua", b"Chen Zihuo", 1)
    assert tampered != data and not dkim.verify(tampered, dnsfunc=dns_for(record))
    swapped = data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click",
    )
    assert not dkim.verify(swapped, dnsfunc=dns_for(record))
    assert head.startswith(b"DKIM-Signature:")


def test_bad_keys_are_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match="cannot read"):
        DkimSigner.from_file("s", "example.org", str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(SettingsError, match="not a PEM private key"):
        DkimSigner.from_file("s", "example.org", str(bad))


def test_rsa_and_ed25519_signatures_both_verify(keypair: tuple[bytes, bytes]) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pytest.importorskip("nacl", reason="dkimpy verifies ed25519 with PyNaCl")
    pem, rsa_record = keypair
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_pem = ed_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    records = {
        b"rsa2026._domainkey.example.org.": rsa_record,
        b"ed2026._domainkey.example.org.": b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw),
    }

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return records[name]

    signers = (
        DkimSigner("rsa2026", "example.org", pem),
        DkimSigner("ed2026", "example.org", ed_pem),
    )
    assert [s.algorithm for s in signers] == ["rsa-sha256", "ed25519-sha256"]

    def verifies(message: bytes, idx: int) -> bool:
        try:
            return bool(dkim.DKIM(message).verify(idx=idx, dnsfunc=dns))
        except dkim.ValidationError:
            return False

    data = factory(*signers).build(Recipient(3, "a@example.org", "A")).data
    assert verifies(data, 0) and verifies(data, 1)
    tampered = data.replace(b"Teng Yue", b"Teng Yu", 1)
    assert tampered != data and not verifies(tampered, 0) and not verifies(tampered, 1)


def test_an_encrypted_key_file_is_a_clear_settings_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem)
    with pytest.raises(SettingsError, match="encrypted with a passphrase") as caught:
        DkimSigner.from_file("mail2026", "example.org", str(path))
    assert str(path) in str(caught.value)


_WSP = re.compile(rb"[ \t\r\n]+")


def regex_relaxed(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2 as first written here, with a regex."""
    return name.strip().lower() + b":" + _WSP.sub(b" ", value).strip() + b"\r\n"


def reference_signature(
    key: Any, headers: list[tuple[bytes, bytes]], body: bytes, selector: str, t: int
) -> bytes:
    """The DKIM-Signature line as the signer first made it: every tag folded for
    every message, the tags canonicalized with the regex."""
    algorithm = "rsa-sha256" if isinstance(key, rsa.RSAPrivateKey) else "ed25519-sha256"
    names = signed_names(headers)
    h = [n + ":" for n in names]
    h[0], h[-1] = "h=" + h[0], h[-1][:-1] + ";"
    bh = base64.b64encode(hashlib.sha256(body).digest()).decode()
    tokens = ["v=1;", f"a={algorithm};", "c=relaxed/relaxed;", "d=example.org;"]
    tokens += [f"s={selector};", f"t={t};", *h, f"bh={bh};"]
    lines, width = [""], len("DKIM-Signature:")
    for token in tokens:
        joiner = "" if lines[-1].endswith(":") else " "
        if width + len(joiner) + len(token) > 78:
            lines.append("\t" + token)
            width = 1 + len(token)
        else:
            lines[-1] += joiner + token
            width += len(joiner) + len(token)
    tags = ("\r\n".join(lines) + "\r\n\tb=").encode()
    plan = selection(tuple(n for n, _ in headers), tuple(names))
    signed = b"".join(regex_relaxed(*headers[i]) for i in plan)
    signed += regex_relaxed(b"DKIM-Signature", tags)[:-2]
    if algorithm == "rsa-sha256":
        signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(hashlib.sha256(signed).digest())
    b64 = base64.b64encode(signature)
    folded = b"\r\n\t ".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return b"DKIM-Signature:" + tags + folded + b"\r\n"


def fields(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(the header fields as (name, raw value after the colon), the body)."""
    head, body = data.split(b"\r\n\r\n", 1)
    pairs = []
    for field in re.split(rb"\r\n(?![ \t])", head):
        name, _, value = field.partition(b":")
        pairs.append((name, value + b"\r\n"))
    return pairs, body


@pytest.fixture(scope="module")
def keys(keypair: tuple[bytes, bytes]) -> list[tuple[Any, bytes]]:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return [(serialization.load_pem_private_key(p, None), p) for p in (keypair[0], ed_pem)]


def test_signatures_are_the_reference_signatures_whatever_the_folding(
    keys: list[tuple[Any, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tags before bh= are kept for a second: each new second (or a step
    # back) must make them again, and bh= lands on the line or after a fold
    # depending on the selector's length.
    data = factory(unsubscribe_mailto=mailto_maker("bounces@example.org", SECRET, 3)).build(
        Recipient(5, "a@example.org", "A long name, with a comma, " * 3)
    )
    full, body = fields(data.data)
    canonical = relaxed_body(body)
    seen = set()
    for drop in (b"", b"List-Unsubscribe-Post", b"Precedence"):  # shorter h= lists
        headers = [(name, value) for name, value in full if name != drop]
        for key, pem in keys:
            for selector in ("s", "sel2026", "a" * 17, "b" * 30, "c" * 41):
                signer = DkimSigner(selector, "example.org", pem)
                for t in (1_800_000_000, 1_800_000_000, 1_800_000_001, 1_799_999_000, 10**10):
                    monkeypatch.setattr(time, "time", lambda t=t: t + 0.5)
                    made = signer.sign(headers, [canonical])
                    assert made == reference_signature(key, headers, canonical, selector, t)
                    seen.add(b"\r\n\tbh=" in made)
    assert seen == {True, False}  # both places of bh= were tried


def test_a_built_message_carries_the_signers_own_signatures(
    keys: list[tuple[Any, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the factory prepares once (h=, the static headers' relaxed forms,
    # the hash of the body's leading text) gives what sign() gives.
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)
    signers = [
        DkimSigner("rsa", "example.org", keys[0][1]),
        DkimSigner("ed", "example.org", keys[1][1]),
    ]
    f = factory(*signers, unsubscribe_mailto=mailto_maker("bounces@example.org", SECRET, 3))
    for name in ("Li Wei", '李伟, "Boss"', "x" * 90, ""):
        data = f.build(Recipient(9, "li.wei@example.org", name, {"country": "LA"}, "k" * 32)).data
        headers, body = fields(data)
        rest = headers[len(signers) :]
        for i, signer in enumerate(signers):
            assert headers[i][0] == b"DKIM-Signature"
            assert b"DKIM-Signature:" + headers[i][1] == signer.sign(rest, [relaxed_body(body)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\x0b", b"\x0c", b"a", b":"]), max_size=60
    )
)
def test_relaxed_header_is_the_regex_form(pieces: list[bytes]) -> None:
    value = b"".join(pieces)
    assert relaxed_header(b" Subject ", value) == regex_relaxed(b" Subject ", value)
