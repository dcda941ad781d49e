"""SpamAssassin (Debian's package, local tests only: no network) scores the example issue.

.ci/run installs it; missing, this is skipped with the reason, except under CI.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.message import DkimSigner, Recipient
from tests.mailer.helpers import factory

TARGET = -1.0  # issue 12: the example issue scores -1.0 or lower


def spamassassin() -> str:
    path = shutil.which("spamassassin")
    if not path:
        message = "SpamAssassin not installed (Debian package 'spamassassin'; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def score(message: bytes, home: Path) -> tuple[float, list[str]]:
    """(score, rules hit) from `spamassassin -L -t` (local tests only)."""
    result = subprocess.run(
        [spamassassin(), "-L", "-t"],
        input=message,
        capture_output=True,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        timeout=300,
        check=True,
    )
    out = result.stdout.decode("utf-8", "replace")
    found = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", out)
    assert found, out[-2000:]
    table = out[found.end() :]
    rules = re.findall(r"^\s*-?[\d.]+ ([A-Z0-9_]+)\s", table, re.MULTILINE)
    return float(found.group(1)), rules


def test_example_issue_scores_minus_one_or_lower(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = DkimSigner("mail2026", "example.org", pem)
    message = factory(signer, feedback_id="42:lmec-news:newsletter:example.org").build(
        Recipient(7, "li.wei@example.org", "Li Wei")
    )
    points, rules = score(message.data, tmp_path)
    # The hidden preheader used to be text in the background's colour.
    assert "HTML_FONT_LOW_CONTRAST" not in rules, rules
    assert points <= TARGET, (points, rules)
