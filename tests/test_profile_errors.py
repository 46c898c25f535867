"""Bad input: each kind gets a clear error naming the file and line/field, and nothing stored is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.importers.profiles import ingest_dir
from knowledge.loader import ProfileError, load_people, load_profile

GOOD = """account: Good Co
owner: alice@example.com
finance:
  revenue: USD 10M
  updated: 2026-10-01
"""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("account: X\nowner: a@b.c\n  bad: [\n", r"x\.yaml:3: malformed YAML"),
        ("account: X\nowner: a@b.c\nfinance:\n  revenue: 1\n  updated: yesterday\n",
         r"x\.yaml:5: finance\.updated: .*date"),
        ("account: X\nowner: a@b.c\nbackgrund:\n  summary: s\n",
         r"x\.yaml:3: backgrund: unknown key 'backgrund' \(did you mean 'background'\?\)"),
        ("account: X\nowner: a@b.c\ncontacts:\n  - name: Li\n    rol: decision_maker\n",
         r"x\.yaml:5: contacts\[0\]\.rol: unknown key 'rol' \(did you mean 'role'\?\)"),
        ("account: X\nowner: a@b.c\nsuppliers:\n  items:\n    - name: T\n      share: 60\n",
         r"x\.yaml:6: suppliers\.items\[0\]\.share: .*less than or equal to 1"),
        ("account: X\nowner: a@b.c\ncontacts:\n  - name: Li\n    birthday: 1980-02-31\n",
         r"x\.yaml:5: contacts\[0\]\.birthday"),
        ("account: X\nowner: a@b.c\ncontacts:\n  - name: Li\n    role: boss\n",
         r"x\.yaml:5: contacts\[0\]\.role: Input should be 'decision_maker'"),
        ("owner: a@b.c\n", r"x\.yaml(:1)?: account: required field is missing"),
        ("account: X\nowner: a@b.c\nowner: b@b.c\n", r"x\.yaml:3: malformed YAML: duplicate key 'owner'"),
        ("- just\n- a list\n", r"x\.yaml:1: expected a mapping"),
        (b"account: X\nowner: \xff\xfe\n", r"x\.yaml:2: not valid UTF-8"),
    ],
)
def test_bad_profile_is_located(tmp_path, text, expected):
    path = _write(tmp_path, "x.yaml", text)
    with pytest.raises(ProfileError, match=expected):
        load_profile(path)


def test_bad_people_file_is_located(tmp_path):
    path = _write(tmp_path, "people.yaml", "- email: a@b.c\n  role: rep\n- email: x@y.z\n  timezone: Mars/Base\n")
    with pytest.raises(ProfileError, match=r"people\.yaml:4: \[1\]\.timezone: .*Mars/Base"):
        load_people(path)
    path.write_text("- email: a@b.c\n  manager: boss@b.c\n")
    with pytest.raises(ProfileError, match=r"people\.yaml:2: \[0\]\.manager: manager 'boss@b.c' is not listed"):
        load_people(path)


def test_bad_file_changes_nothing_and_others_still_load(store, tmp_path):
    data = tmp_path / "profiles"
    data.mkdir()
    _write(data, "good.yaml", GOOD)
    _write(data, "other.yaml", GOOD.replace("Good Co", "Other Co"))
    first = ingest_dir(store, data)
    assert len(first.imported) == 2 and not first.skipped
    # the good file turns bad, a new duplicate appears, and a non-UTF-8 file shows up
    _write(data, "good.yaml", GOOD.replace("revenue: USD 10M", "revenue: USD 12M\n  bugdet: 1"))
    _write(data, "dupe.yaml", GOOD.replace("Good Co", "other co"))
    _write(data, "latin1.yaml", "account: Caf\xe9\nowner: a@b.c\n".encode("latin-1"))
    second = ingest_dir(store, data)
    reasons = dict(second.skipped)
    assert "did you mean 'budget'" in reasons[str(data / "good.yaml")]
    assert "duplicate account name 'other co': also in" in reasons[str(data / "dupe.yaml")]
    assert "duplicate account name 'Other Co': also in" in reasons[str(data / "other.yaml")]
    assert "not valid UTF-8" in reasons[str(data / "latin1.yaml")]
    assert second.imported == [] and second.unchanged == []
    kept = store.load_profile(store.find_account("Good Co"))
    assert kept.finance.revenue == "USD 10M"  # the last good version is still there
    assert store.load_profile(store.find_account("Other Co")).account == "Other Co"
    assert store.count_accounts() == 2
