"""What a user sees when a command cannot do its work (issue 11): one clear line and an exit code, never a
traceback; a second writer is refused before it writes anything."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import filelock
import pytest

from tests.conftest import EXAMPLES, ROOT, backend_env


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_", "OPENAI_"))}
    env.update(KAM_HOME=str(home), COLUMNS="200", **backend_env(home))
    return env


def kam(home: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=_env(home), capture_output=True,
                          text=True, timeout=300, **kwargs)  # type: ignore[call-overload]


@pytest.mark.embedded_only  # the file lock of the embedded index
def test_a_second_writer_is_refused_as_busy_before_writing_anything(tmp_path: Path) -> None:
    home = tmp_path / "kam"
    home.mkdir()
    with filelock.FileLock(str(home / "index.lock")):  # another kam process (e.g. `kam ingest`) holds the index
        result = kam(home, "ingest", str(EXAMPLES))
    assert result.returncode == 3, result.stderr
    assert "another kam process" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(kam(home, "accounts", "--json").stdout) == []  # nothing of the refused ingest was stored


@pytest.mark.slow
def test_concurrent_ingests_one_wins_the_other_is_told_busy(tmp_path: Path) -> None:
    home = tmp_path / "kam"
    procs = [subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", str(EXAMPLES)], cwd=ROOT, env=_env(home),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 3]), outs
    assert not any("Traceback" in err for _, err in outs)
    assert len(json.loads(kam(home, "accounts", "--json").stdout)) == 16


@pytest.mark.slow
@pytest.mark.embedded_only  # SQLite's busy timeout
def test_a_database_locked_past_the_busy_timeout_is_a_busy_message(tmp_path: Path) -> None:
    home = tmp_path / "kam"
    assert kam(home, "tiers", "review").returncode == 0  # creates the database
    conn = sqlite3.connect(home / "kam.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # another process writes for longer than SQLite waits (10 s)
    try:
        result = kam(home, "tiers", "review")
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert result.returncode == 3 and "busy: another kam process is writing" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def _full_disk() -> None:
    """Writes beyond 2 kB fail as on a full disk (EFBIG instead of the signal that would kill the process)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


@pytest.mark.embedded_only  # the database is a file in KAM_HOME
def test_a_full_disk_gives_a_clear_message_and_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "kam"
    data = tmp_path / "profiles"
    data.mkdir()
    (data / "good.yaml").write_text("account: Good Co\nowner: alice@example.com\n")
    assert kam(home, "ingest", str(data)).returncode == 0
    (data / "more.yaml").write_text("account: More Co\nowner: alice@example.com\n" + "notes:\n" + "".join(
        f"  - {{date: 2026-01-01, dimension: finance, text: note {i} {'x' * 200}}}\n" for i in range(200)))
    for args in (("ingest", str(data)), ("accounts",), ("tiers", "review")):
        result = kam(home, *args, preexec_fn=_full_disk)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 3, result.stderr
        assert "error:" in result.stderr and ("disk" in result.stderr or "space" in result.stderr), result.stderr
    accounts = json.loads(kam(home, "accounts", "--json").stdout)
    assert [a["account"] for a in accounts] == ["Good Co"]
