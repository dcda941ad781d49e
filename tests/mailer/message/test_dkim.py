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
