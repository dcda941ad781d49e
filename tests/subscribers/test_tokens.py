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


def test_message_links_are_what_itsdangerous_makes_as_the_seconds_go_by(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The timestamp part is kept for the second it was made in: each new
    # second (and a step back, as a clock may take) must give a new one.
    tokens = Tokens("the-secret")
    unsubscribe = URLSafeTimedSerializer("the-secret", salt="mailer.unsubscribe")
    preferences = URLSafeTimedSerializer("the-secret", salt="mailer.preferences")
    for now in (1_800_000_000.0, 1_800_000_000.999, 1_800_000_001.0, 1_799_999_999.5, 2**32 + 0.1):
        monkeypatch.setattr(time, "time", lambda now=now: now)
        for sid, lid, key in [(7, 3, "k" * 32), (2**40, 12, None), (1, 999_999, "x")]:
            unsub, prefs = tokens.message_links(sid, lid, key)
            digest = [key_digest(key)] if key else []
            assert unsub == unsubscribe.dumps([sid, lid, *digest])
            assert unsub == tokens.make(Purpose.UNSUBSCRIBE, sid, lid, key)
            assert prefs == preferences.dumps([sid, None, *digest] if key else [sid])
            assert prefs == tokens.make(Purpose.PREFERENCES, sid, key=key)


class _Id(int):
    """An int subclass: its JSON is json's business, not the hand-made format's."""


@pytest.mark.parametrize("sid", [True, _Id(5)])
def test_an_id_that_is_not_a_plain_int_is_written_by_json(
    sid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.5)
    reference = URLSafeTimedSerializer("the-secret", salt="mailer.confirm")
    for lid, key in [(None, None), (4, None), (_Id(4), "k"), (None, "k")]:
        made = Tokens("the-secret").make(Purpose.CONFIRM, sid, lid, key)
        payload = [sid, lid, key_digest(key)] if key else [sid] if lid is None else [sid, lid]
        assert made == reference.dumps(payload)
