"""What the doctor found: one finding per check, each with the one-line fix."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from typing import Any


class Level(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    check: str  # a stable name, e.g. "dkim.key", for --json and for tests
    level: Level
    message: str  # what is right or wrong, in one sentence
    fix: str = ""  # the one line to publish or set; empty when nothing is to do

    def as_dict(self) -> dict[str, str]:
        return asdict(self) | {"level": self.level.value}

    def __str__(self) -> str:
        text = f"{self.level.value}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    # A base_url on loopback marks a local test set-up (the demo, the tests):
    # its errors are shown as warnings and nothing is refused.
    local: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, findings: list[Finding], local: bool) -> Report:
        if local:
            findings = [
                replace(f, level=Level.WARNING) if f.level == Level.ERROR else f for f in findings
            ]
        return cls(tuple(findings), local)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.WARNING]

    def refusal(self) -> str | None:
        """Why a send is refused, naming each error; None when it may go."""
        if not self.errors:
            return None
        lines = [f"  {f.check}: {f.message}" for f in self.errors]
        return (
            f"mailer doctor found {len(self.errors)} error(s); not sending:\n"
            + "\n".join(lines)
            + "\nRun `mailer doctor` for the fixes, or add --force to send anyway "
            "(recorded on the campaign)."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": not self.errors,
            "local_setup": self.local,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.as_dict() for f in self.findings],
        }
