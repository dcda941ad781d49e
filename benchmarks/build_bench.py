"""Per-message Python cost of ``MessageFactory.build``, without and with RSA-2048 DKIM.

The example issue is composed as a campaign composes it (send_bench.py's
settings), then built for N recipients, single-threaded, in rounds that
alternate the two variants; it prints the best and the median round in ms
per message.

    python benchmarks/build_bench.py [--recipients 3000] [--rounds 5]

``--digest`` prints instead a SHA-256 of every byte built for a
varied set of recipients (ASCII, non-ASCII, long and quoted names, keyless
rows, an unsubscribe mailto) under a fake clock that moves 0.37 s a message,
with both an RSA and an Ed25519 signature: the same digest before and after a
change of the build path means the same bytes. The key files (--key) are made when
missing and must be the same for the two runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from send_bench import EXAMPLE, settings_for  # noqa: E402

from mailer.compose import compose  # noqa: E402
from mailer.content import load_issue_set  # noqa: E402
from mailer.message import MessageFactory, Recipient  # noqa: E402
from mailer.settings import Settings  # noqa: E402
from subscribers.models import MailingList  # noqa: E402

LIST = MailingList(id=1, slug="bench", title="LMEC Newsletter", description="")


def factory(settings: Settings) -> MessageFactory:
    return compose(load_issue_set(EXAMPLE), settings, LIST, "1").factory(None)


def rsa_key_file(path: Path) -> Path:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


def timed(build: Callable[[Recipient], object], people: list[Recipient]) -> float:
    """ms per message for one pass over ``people``."""
    start = time.perf_counter()
    for r in people:
        build(r)
    return (time.perf_counter() - start) / len(people) * 1000


def bench(n: int, rounds: int, key: Path) -> None:
    base = settings_for(Path("unused.db"), 25)
    plain = factory(base)
    signed = factory(settings_for(Path("unused.db"), 25, key))
    # As the delivery path builds them: a link key per subscriber, one attribute.
    people = [
        Recipient(i, f"reader.{i}@example.org", f"Reader {i}", {"country": "LA"}, link_key)
        for i, link_key in enumerate(secrets.token_hex(16) for _ in range(n))
    ]
    timed(plain.build, people[:200])  # warm the caches and the allocator
    timed(signed.build, people[:200])
    results: dict[str, list[float]] = {"no DKIM": [], "RSA-2048 DKIM": []}
    for _ in range(rounds):
        results["no DKIM"].append(timed(plain.build, people))
        results["RSA-2048 DKIM"].append(timed(signed.build, people))
    size = len(plain.build(people[0]).data)
    print(f"example issue, message {size / 1024:.1f} KB; {n:,} recipients; {rounds} rounds")
    print(f"{'build':<16} {'best ms':>9} {'median ms':>10}")
    for label, values in results.items():
        print(f"{label:<16} {min(values):>9.4f} {statistics.median(values):>10.4f}")


def varied_people() -> list[Recipient]:
    names = [
        "Reader",
        "",
        "Zoë Ångström",
        "Doe, Jane",
        'The "Quoted" One',
        "A very long display name that keeps going well past the folding width of a line",
        "张伟" * 20,
        "  spaced   out  ",
    ]
    people = []
    for i in range(400):
        name = names[i % len(names)]
        key = None if i % 7 == 3 else f"{i:032x}"
        email = f"reader.{i}@example.org" if i % 11 else f"lecteur.{i}@exämple.org"
        attributes = {"country": "LA"} if i % 3 else {"country": "Ωmega = x  "}
        people.append(Recipient(i * 7919, email, name, attributes, key))
    return people


def digest(key: Path) -> None:
    ed_key = key.with_suffix(".ed25519.pem")
    if not ed_key.exists():
        ed_key.write_bytes(
            ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    base = dataclasses.replace(
        settings_for(Path("unused.db"), 25),
        bounce_address="bounces@example.org",
        feedback_id="{campaign}:{list}:{sender}",
    )
    signed = dataclasses.replace(
        settings_for(Path("unused.db"), 25, key),
        dkim_ed25519_selector="ed",
        dkim_ed25519_key_file=str(ed_key),
    )
    # A fixed MIME boundary, so that two factories (two runs) make the same bytes.
    secrets.token_hex = lambda n=None: "0" * 2 * (n or 32)  # type: ignore[assignment]
    factories = [factory(base), factory(signed)]
    clock = 1_800_000_000.0
    time.time = lambda: clock  # tokens and the DKIM t= tag read it
    total = hashlib.sha256()
    count = 0
    for f in factories:
        for r in varied_people():
            clock += 0.37
            message = f.build(r, date=clock)
            for part in (r.email, message.message_id, message.data, message.wire or b""):
                total.update(part.encode() if isinstance(part, str) else part)
                total.update(b"\0")
            count += 1
    print(f"{count} messages, sha256 {total.hexdigest()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--key", type=Path, default=Path("/tmp/build_bench_rsa.pem"))
    parser.add_argument("--digest", action="store_true", help="print the bytes' digest instead")
    args = parser.parse_args()
    if args.digest:
        digest(rsa_key_file(args.key))
    else:
        bench(args.recipients, args.rounds, rsa_key_file(args.key))


if __name__ == "__main__":
    main()
