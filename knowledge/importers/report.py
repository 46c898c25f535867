"""The summary every import returns: what was imported, what was unchanged, what was skipped and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.store import SaveResult


@dataclass
class ImportReport:
    importer: str
    imported: list[str] = field(default_factory=list)  # account ids written
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    warnings: list[str] = field(default_factory=list)  # repaired quirks, unknown owners, ...
    quirks: dict[str, int] = field(default_factory=dict)  # data quirk key -> rows/accounts affected (crm import)
    people: int = 0
    people_removed: list[str] = field(default_factory=list)  # emails no longer in people.yaml (access revoked)
    removed: list[str] = field(default_factory=list)  # accounts whose profile file is gone from the directory
    created: list[str] = field(default_factory=list)  # accounts created with no rep as owner (import-filing)
    embedded: int = 0
    chunks_unchanged: int = 0  # chunks of changed accounts whose text was the same (not embedded again)
    chunks_kept: int = 0  # every chunk in the index left as it was, unchanged accounts' included
    chunks_deleted: int = 0
    not_indexed: list[tuple[str, str]] = field(default_factory=list)  # (account id, reason): stored, not searchable
    # fields changed both in the source and in the product since the last import (docs/profile-format.md)
    conflicts: list[dict] = field(default_factory=list)  # {file, account, field, source_value, product_value, kept}
    changes: int = 0  # field changes recorded in the history

    def add_result(self, source: str, account: str, result: SaveResult) -> None:
        """Count a merge's changes and list its conflicts."""
        self.changes += len(result.changes)
        for c in result.conflicts:
            self.conflicts.append({"file": source, "account": account, "field": c.path,
                                   "source_value": c.source_value, "product_value": c.product_value,
                                   "kept": c.winner})

    @property
    def ok(self) -> bool:
        return not self.skipped

    def to_json(self) -> dict:
        data = asdict(self)
        data["skipped"] = [{"source": s, "reason": r} for s, r in self.skipped]
        data["not_indexed"] = [{"account": a, "reason": r} for a, r in self.not_indexed]
        return data
