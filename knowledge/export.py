"""`kam export DIR`: the stored profiles and people written back as YAML in the documented format.

One `<account id>.yaml` per account and a `people.yaml`, as docs/profile-format.md describes them. Everything the
product holds on an account is in its file: fields edited in Slack, notes captured there, CRM meetings and key
dates. Ingesting the directory again changes nothing: the fields are what is stored, and records that are already
stored from another source are recognised as the same records (Store._file_records). Documents (10-K sections) are
not part of the format and stay in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.profile import AccountProfile, Person
from knowledge.store import Store

HEADER = "# exported by `kam export`; the format is described in docs/profile-format.md\n"


@dataclass
class ExportReport:
    directory: str
    accounts: list[dict[str, str]] = field(default_factory=list)  # {id, account, file}
    people: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"directory": self.directory, "accounts": self.accounts, "people": self.people}


def _clean(value: Any) -> Any:
    """Drop empty values (None, "", [], {}) so the file holds only what is known."""
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def profile_yaml(profile: AccountProfile) -> str:
    data = _clean(profile.model_dump(mode="json", exclude_none=True))
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def people_yaml(people: list[Person]) -> str:
    data = [_clean(p.model_dump(mode="json", exclude_none=True)) for p in people]
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def export_dir(store: Store, directory: Path) -> ExportReport:
    """Write every account and people.yaml into `directory` (created if missing; files of the same names are
    replaced, other files are left alone)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    report = ExportReport(str(directory))
    ids = store.account_ids()
    for account_id, profile in sorted(store.load_profiles(ids).items()):
        path = directory / f"{account_id}.yaml"
        path.write_text(profile_yaml(profile), encoding="utf-8")
        report.accounts.append({"id": account_id, "account": profile.account, "file": str(path)})
    people = store.people()
    (directory / "people.yaml").write_text(people_yaml(people), encoding="utf-8")
    report.people = len(people)
    return report
