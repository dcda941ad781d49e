import base64
import email
import email.policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.errors import SettingsError
from mailer.message import DkimSigner, Recipient
from tests.mailer.helpers import factory


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
