"""requirements.lock pins every dependency pyproject.toml names, each with hashes."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert match, spec
    return canonical(match.group(1))


def test_every_dependency_is_pinned_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(d) for d in project["dependencies"]}
    wanted |= {requirement_name(d) for d in project["optional-dependencies"]["dev"]}
    lock = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", lock, re.M))
    missing = sorted(wanted - {canonical(p) for p in pins})
    assert missing == [], f"not in requirements.lock: {missing}; run `make lock`"
    # Every pin carries at least one hash, so pip installs with --require-hashes.
    blocks = re.split(r"\n(?=[a-z0-9])", lock.split("\n\n", 1)[-1])
    unhashed = [b.split("==")[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
    assert unhashed == []
