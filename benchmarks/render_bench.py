"""Per-recipient cost of the example issue's message, against copying its bytes.

Prepares the example issue once (Markdown, layout, CSS inlining), then for N
recipients measures:
  * baseline: copying a message of the same bytes with no rendering at all;
  * personalize + build: values, QP segments, headers, the whole MIME message;
  * the same, DKIM-signed (RSA-2048, relaxed/relaxed);
  * dkimpy signing the same message, for comparison.
It prints microseconds per message and the ratio to the baseline.

    python benchmarks/render_bench.py [--messages 5000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailer.content import load_issue_set
from mailer.message import DkimSigner, MessageFactory, Recipient, SenderInfo
from mailer.render import Audience, prepare_issue
from subscribers.tokens import Tokens

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/issues/lmec-2021-issue-7.md"


def per_message_us(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(3):  # best of three: the machine is noisy
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    n = parser.parse_args().messages

    start = time.perf_counter()
    audience = Audience(
        "LMEC Newsletter", "lmec-news", "LMEC", "Beijing", "https://news.example.org"
    )
    prepared = prepare_issue(load_issue_set(EXAMPLE), audience)
    prepare_ms = (time.perf_counter() - start) * 1000
    sender = SenderInfo(
        "LMEC <news@example.org>",
        "https://news.example.org",
        1,
        "lmec-news",
        "LMEC Newsletter",
        "7",
        "secret",
    )
    tokens = Tokens("secret")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    plain = MessageFactory(prepared.for_language("en"), sender, tokens)
    signed = MessageFactory(
        prepared.for_language("en"), sender, tokens, [DkimSigner("sel", "example.org", pem)]
    )
    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    both = MessageFactory(
        prepared.for_language("en"),
        sender,
        tokens,
        [DkimSigner("sel", "example.org", pem), DkimSigner("ed", "example.org", ed_pem)],
    )
    people = [
        Recipient(i, f"reader.{i}@example.org", f"Reader {i}", {"country": "LA"}) for i in range(n)
    ]
    sample = plain.build(people[0]).data
    size = len(sample)

    base = per_message_us(lambda i: bytes(bytearray(sample)), n)
    build = per_message_us(lambda i: plain.build(people[i]), n)
    sign = per_message_us(lambda i: signed.build(people[i]), max(n // 5, 1))
    sign2 = per_message_us(lambda i: both.build(people[i]), max(n // 5, 1))
    m = max(n // 100, 20)
    dkimpy = per_message_us(
        lambda i: dkim.sign(
            sample, b"sel", b"example.org", pem, canonicalize=(b"relaxed", b"relaxed")
        ),
        m,
    )

    print(f"example issue: message {size / 1024:.1f} KB; prepared once in {prepare_ms:.0f} ms")
    print(f"{'step':<36} {'us/message':>11} {'x baseline':>11}")
    for label, us in [
        ("baseline: copy the bytes", base),
        ("personalize + build (no DKIM)", build),
        ("personalize + build + DKIM (RSA)", sign),
        ("  … + a second, ed25519 signature", sign2),
        ("dkimpy sign alone (comparison)", dkimpy),
    ]:
        print(f"{label:<36} {us:>11.1f} {us / base:>11.1f}")
    print("Aim: personalize + build under 300 us per message without DKIM.")


if __name__ == "__main__":
    main()
