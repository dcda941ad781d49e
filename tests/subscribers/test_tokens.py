import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from subscribers.tokens import BadToken, Purpose, TokenClaims, Tokens, key_digest

TOKENS = Tokens("token-test-secret")


def test_a_token_names_the_person_by_key() -> None:
    t = TOKENS.make(Purpose.UNSUBSCRIBE, 7, 3, "a" * 32)
    claims = TOKENS.read(Purpose.UNSUBSCRIBE, t)
    assert (claims.subscriber_id, claims.list_id) == (7, 3)
    assert claims.fits("a" * 32)
    assert not claims.fits("b" * 32)  # the same id, someone else
    assert not claims.fits(None)  # a keyless row never takes a keyed link
    assert "a" * 32 not in t  # the key itself stays out of the URL
    prefs = TOKENS.read(Purpose.PREFERENCES, TOKENS.make(Purpose.PREFERENCES, 7, key="k"))
    assert prefs.list_id is None and prefs.fits("k")


def test_links_made_before_keys_work_for_keyless_rows_only() -> None:
    old = TOKENS.read(Purpose.UNSUBSCRIBE, TOKENS.make(Purpose.UNSUBSCRIBE, 7, 3))
    assert old == TokenClaims(7, 3, None)
    assert old.fits(None)
    assert not old.fits("a" * 32)  # a new row holding that id is not its person


def test_a_payload_cannot_be_bent() -> None:
    forged = Tokens("another-secret").make(Purpose.UNSUBSCRIBE, 7, 3, "k")
    with pytest.raises(BadToken):
        TOKENS.read(Purpose.UNSUBSCRIBE, forged)
    with pytest.raises(BadToken):
        TOKENS.read(Purpose.CONFIRM, TOKENS.make(Purpose.UNSUBSCRIBE, 7, 3, "k"))
    serializer = TOKENS._serializers[Purpose.UNSUBSCRIBE]
    for payload in ([7, 3, 5], [True, 3, "x"], [7, "3", key_digest("k")], [7, 3, "x", 1], {}):
        with pytest.raises(BadToken):
            TOKENS.read(Purpose.UNSUBSCRIBE, str(serializer.dumps(payload)))


@pytest.mark.parametrize(
    ("purpose", "sid", "lid", "key"),
    [
        (Purpose.UNSUBSCRIBE, 12345, 3, "k" * 22),
        (Purpose.PREFERENCES, 1, None, "abc"),
        (Purpose.CONFIRM, 7, 2, None),
        (Purpose.UNSUBSCRIBE, 2**40, None, None),
    ],
)
def test_tokens_are_what_itsdangerous_makes_and_reads(
    purpose: Purpose, sid: int, lid: int | None, key: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made on the send path without itsdangerous's per-call set-up; read by it.
    # (These payloads are ones zlib does not shorten: dumps leaves them uncompressed.)
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.5)
    tokens = Tokens("the-secret")
    made = tokens.make(purpose, sid, lid, key)
    reference = URLSafeTimedSerializer("the-secret", salt=f"mailer.{purpose.value}")
    payload = [sid, lid, key_digest(key)] if key else [sid] if lid is None else [sid, lid]
    assert made == reference.dumps(payload)
    assert tokens.read(purpose, made) == TokenClaims(sid, lid, key_digest(key) if key else None)


def test_a_payload_itsdangerous_would_compress_still_reads_back() -> None:
    tokens = Tokens("the-secret")
    made = tokens.make(Purpose.UNSUBSCRIBE, 11111111, 11111111)
    assert tokens.read(Purpose.UNSUBSCRIBE, made) == TokenClaims(11111111, 11111111)
    reference = URLSafeTimedSerializer("the-secret", salt="mailer.unsubscribe")
    assert reference.loads(made) == [11111111, 11111111]
