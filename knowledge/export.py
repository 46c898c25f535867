"""`kam export DIR`: the stored profiles and people written back as YAML in the documented format.

One file per account (named as the profile file it was loaded from, else `<account id>.yaml`) and a
`people.yaml`, as docs/profile-format.md describes them. Everything the product holds on an account is in its
file: fields edited in Slack, notes captured there, CRM meetings and key dates. Ingesting the directory again
changes nothing: the fields are what is stored, and records that are already stored from another source are
recognised as the same records (Store._file_records). Documents (10-K sections) are not part of the format and
stay in the store.
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
    data = _clean(profile.model_dump(exclude_none=True))  # dates stay dates: written unquoted, as people write them
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def people_yaml(people: list[Person]) -> str:
    data = [_clean(p.model_dump(mode="json", exclude_none=True)) for p in people]
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def _file_names(sources: dict[str, str]) -> dict[str, str]:
    """account id -> file name: the name of the profile file it was loaded from (so exporting into that directory
    writes the same files back), else `<id>.yaml`; never two accounts in one file."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for account_id in sorted(sources):
        name = Path(sources[account_id]).name
        if not name.lower().endswith((".yaml", ".yml")) or name.casefold() in taken \
                or name.casefold() in ("people.yaml", "people.yml"):
            name = f"{account_id}.yaml"
        while name.casefold() in taken:
            name = f"{account_id}-{len(taken)}.yaml"
        taken.add(name.casefold())
        out[account_id] = name
    return out


def export_dir(store: Store, directory: Path) -> ExportReport:
    """Write every account and people.yaml into `directory` (created if missing; files of the same names are
    replaced, other files are left alone)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    report = ExportReport(str(directory))
    summaries = {s.id: s for s in store.summaries()}
    names = _file_names({i: s.source for i, s in summaries.items()})
    for account_id, profile in sorted(store.load_profiles(list(summaries)).items()):
        path = directory / names[account_id]
        path.write_text(profile_yaml(profile), encoding="utf-8")
        report.accounts.append({"id": account_id, "account": profile.account, "file": str(path)})
    people = store.people()
    (directory / "people.yaml").write_text(people_yaml(people), encoding="utf-8")
    report.people = len(people)
    return report
