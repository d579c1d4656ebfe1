"""What an import did with each field it read: translated, unsupported, or behaving differently."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    TRANSLATED = "translated"
    UNSUPPORTED = "unsupported"  # dropped; the note says why and what to do instead
    DIFFERS = "differs"  # translated, but serinus behaves differently in a way that matters
    ERROR = "error"  # the document could not be converted at all


@dataclass(frozen=True)
class Finding:
    source: str  # "Rollout/argo-examples/my-rollout"
    field: str  # the source document's field path, e.g. "spec.strategy.canary.steps[1]"
    outcome: Outcome
    note: str

    def as_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "field": self.field,
            "outcome": self.outcome.value,
            "note": self.note,
        }


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(self, source: str, path: str, outcome: Outcome, note: str) -> None:
        self.findings.append(Finding(source, path, outcome, note))

    def translated(self, source: str, path: str, note: str = "") -> None:
        self.add(source, path, Outcome.TRANSLATED, note)

    def unsupported(self, source: str, path: str, note: str) -> None:
        self.add(source, path, Outcome.UNSUPPORTED, note)

    def differs(self, source: str, path: str, note: str) -> None:
        self.add(source, path, Outcome.DIFFERS, note)

    def error(self, source: str, path: str, note: str) -> None:
        self.add(source, path, Outcome.ERROR, note)

    @property
    def failed(self) -> bool:
        return any(f.outcome is Outcome.ERROR for f in self.findings)
