"""`kam ingest DIR`: YAML account profiles and people.yaml, each file in its own transaction."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from knowledge.history import file_time, import_actor
from knowledge.importers.report import ImportReport
from knowledge.importers.sync import remove_vanished, sync_people
from knowledge.loader import LoadedProfile, ProfileError, line_of, load_people, load_profile, read_bytes, shown
from knowledge.store import Store, name_key

PEOPLE_FILE = "people.yaml"


def profile_files(directory: Path) -> list[Path]:
    """Every entry named *.yaml / *.yml except people.yaml. Directories, FIFOs, broken links and the like are
    listed too, so the ingest reports them as skipped instead of passing over them in silence."""
    files = [p for p in sorted(directory.iterdir()) if p.suffix.lower() in (".yaml", ".yml")]
    return [p for p in files if p.stem.lower() != "people"]


def ingest_dir(store: Store, directory: Path, progress: Callable[[int, int], None] | None = None,
               actor: str | None = None) -> ImportReport:
    """Load people.yaml then every profile, each merged field by field into what is stored (Store.import_profile).
    A bad file is skipped whole; the others still load."""
    directory = Path(directory)
    actor = actor or import_actor()
    report = ImportReport("profiles")
    if not directory.is_dir():
        raise ProfileError(directory, "not a directory of profile files")
    people_path = next((p for p in (directory / PEOPLE_FILE, directory / "people.yml") if os.path.lexists(p)), None)
    known: set[str] = {p.email for p in store.people()} | {p.slack_id for p in store.people() if p.slack_id}
    if people_path:
        try:
            people = load_people(people_path)
            report.people_removed = sync_people(store, people, people_path)
            report.people = len(people)
            known = {p.email for p in store.people()} | {p.slack_id for p in store.people() if p.slack_id}
        except ProfileError as exc:
            report.skipped.append((shown(people_path), str(exc)))
    files = profile_files(directory)
    loaded: list[LoadedProfile] = []
    digests: dict[Path, str] = {}
    known_files = store.unchanged_sources()
    same: list[tuple[Path, str, list[str]]] = []  # (path, account id, labels): bytes unchanged since last load
    for path in files:  # phase 1: read and validate everything (files whose bytes did not change are not parsed)
        try:
            data = read_bytes(path)  # bounded, and never blocks on a FIFO
            digests[path] = hashlib.sha256(data).hexdigest()
            known = known_files.get(str(path.resolve()))
            if known is not None and known[0] == digests[path]:
                same.append((path, known[1], known[2]))
                continue
            loaded.append(load_profile(path, data))
        except ProfileError as exc:
            report.skipped.append((shown(path), str(exc)))
        except (OSError, RuntimeError) as exc:  # RuntimeError: Path.resolve() on a symlink loop
            report.skipped.append((shown(path), f"{shown(path)}: cannot read: {getattr(exc, 'strerror', None) or exc}"))
    # two files naming one account (by name or alias) are both skipped: which one is right is the user's call
    claims: dict[str, list[tuple[str, Path]]] = {}
    for item in loaded:
        for label in {item.profile.account, *item.profile.aliases}:
            claims.setdefault(name_key(label), []).append((label, item.path))
    for path, _, labels in same:
        for label in set(labels):
            claims.setdefault(name_key(label), []).append((label, path))
    clashes: dict[Path, str] = {}
    for entries in claims.values():
        paths = sorted({p for _, p in entries})
        if len(paths) > 1:
            for label, path in entries:
                others = ", ".join(str(p) for p in paths if p != path)
                clashes.setdefault(path, f"{path}: account: duplicate account name {label!r}: also in {others}")
    for i, item in enumerate(loaded, 1):  # phase 2: save, one transaction per file
        path, profile = item.path, item.profile
        try:
            if path in clashes:
                raise ProfileError(path, clashes[path].split(": ", 2)[2], field="account")
            result = store.import_profile(profile, str(path.resolve()), kind="file", actor=actor,
                                          source_time=file_time(path))
            account_id = result.account_id
            (report.imported if result.changed else report.unchanged).append(account_id)
            report.add_result(shown(path), profile.account, result)
            store.remember_source(str(path.resolve()), digests[path], account_id, [profile.account, *profile.aliases])
            owner = profile.owner.lower() if "@" in profile.owner else profile.owner
            if known and owner not in known:
                report.warnings.append(f"{path}: owner {profile.owner!r} is not in people.yaml; only managers "
                                       "and admins will see this account")
        except ProfileError as exc:
            if exc.loc is not None and exc.line is None:  # found by the merge: point at the line in the file
                exc = ProfileError(exc.path, exc.message, line=line_of(item.text, exc.loc), field=exc.field)
            report.skipped.append((str(path), str(exc)))
        if progress:
            progress(i, len(loaded))
    for path, account_id, _ in same:
        if path in clashes:  # a new file claims this one's name: both wait for the user to decide
            report.skipped.append((str(path), clashes[path]))
        else:
            report.unchanged.append(account_id)
    report.removed = remove_vanished(store, directory, _resolved(files))
    return report


def _resolved(files: list[Path]) -> set[str]:
    """The stored form (resolved path) of every profile entry still in the directory, readable or not."""
    out = set()
    for path in files:
        try:
            out.add(str(path.resolve()))
        except (OSError, RuntimeError):  # a symlink loop
            out.add(str(path.absolute()))
    return out
