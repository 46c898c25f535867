"""The `kam` commands as a user runs them: a real subprocess, a fresh KAM_HOME, --json contracts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import filelock
import pytest

from tests.conftest import EXAMPLES, ROOT, backend_env


def kam(home: Path, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAM_HOME": str(home), "COLUMNS": "200", **backend_env(home)}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, input=input_text, timeout=300)


def test_ingest_list_show_search(tmp_path):
    home = tmp_path / "kam"
    first = kam(home, "ingest", str(EXAMPLES), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert len(report["imported"]) == 16 and report["skipped"] == [] and report["embedded"] > 100

    again = json.loads(kam(home, "ingest", str(EXAMPLES), "--json").stdout)
    assert again["embedded"] == 0 and len(again["unchanged"]) == 16
    assert again["chunks_kept"] == report["embedded"] and again["chunks_unchanged"] == 0  # a field added, none renamed
    plain = kam(home, "ingest", str(EXAMPLES)).stdout
    assert f"index: 0 chunks embedded, {report['embedded']} unchanged, 0 removed" in " ".join(plain.split())

    accounts = json.loads(kam(home, "accounts", "--json").stdout)
    assert len(accounts) == 16
    row = next(a for a in accounts if a["account"] == "Hanshan Packaging Co.")
    assert {"id", "account", "owner", "tier", "completeness", "stale_dimensions"} <= set(row)
    mine = json.loads(kam(home, "accounts", "--owner", "alice@example.com", "--json").stdout)
    assert mine and all(a["owner"] == "alice@example.com" for a in mine)

    shown = json.loads(kam(home, "show", "寒山包装", "--dimension", "suppliers", "--json").stdout)
    assert shown["account"] == "Hanshan Packaging Co." and shown["suppliers"]["items"][0]["name"]
    assert "finance" not in shown

    hits = json.loads(kam(home, "search", "Tetra Pak", "--as", "alice@example.com", "--json").stdout)
    alice_accounts = {a["account"] for a in mine}
    assert hits and all(h["account"] in alice_accounts or h["owner"] != "alice@example.com" for h in hits)
    assert {"id", "account", "dimension", "score", "vector_rank", "lexical_rank", "text"} <= set(hits[0])

    typo = json.loads(kam(home, "show", "Hanshn Packagng", "--json").stdout)  # found as Ask finds it
    assert typo["account"] == "Hanshan Packaging Co."
    missing = kam(home, "show", "Zanzibar Widgets")
    assert missing.returncode == 1 and "no account named 'Zanzibar Widgets'" in missing.stderr


def test_ingest_reports_bad_files_and_exits_nonzero(tmp_path):
    data = tmp_path / "profiles"
    data.mkdir()
    (data / "ok.yaml").write_text("account: Ok Co\nowner: a@example.com\n")
    (data / "bad.yaml").write_text("account: Bad Co\nowner: a@example.com\nfinanse:\n  revenue: 1\n")
    result = kam(tmp_path / "kam", "ingest", str(data))
    assert result.returncode == 1
    assert "1 imported" in result.stdout and "1 skipped" in result.stdout
    assert "bad.yaml:3: finanse: unknown key 'finanse' (did you mean 'finance'?)" in result.stdout


@pytest.mark.embedded_only
def test_index_owned_by_another_process(tmp_path):
    home = tmp_path / "kam"
    home.mkdir(parents=True)
    with filelock.FileLock(str(home / "index.lock")):
        (home / "index.pid").write_text("4242")
        result = kam(home, "ingest", str(EXAMPLES))
    assert result.returncode == 3
    assert "another kam process (pid 4242)" in result.stderr and "CHROMA_HOST" in result.stderr


def test_demo_console_answers_typed_lines(tmp_path):
    result = kam(tmp_path / "kam", "demo", input_text="accounts\nshow hanshan suppliers\nshow Northwind Foods\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "Hanshan Packaging Co." in result.stdout and "Tetra Pak" in result.stdout
    assert "not in your portfolio" in result.stdout  # alice does not own Northwind


def test_demo_console_covers_ask_tiers_nudges_and_digest(tmp_path):
    lines = ["help", "who is the decision maker at hanshan?", "and their suppliers?", "tiers review",
             "nudges 2026-11-23", "as mia@example.com", "digest 2026-11-23", "quit"]
    result = kam(tmp_path / "kam", "demo", input_text="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "tiers [explain ACCOUNT" in out  # help text is shown literally, not eaten as markup
    assert "Li Wei" in out and "Tetra Pak" in out  # the answer, then the follow-up about the same account
    assert "4 key, 4 strategic, 4 maintenance, 4 opportunity" in out
    assert "nudges for 2026-11-23" in out and "stale" in out
    assert "Digest for Mia Tanaka" in out and "ESCALATED" in out


def test_demo_reviews_tiers_and_renders_answers_for_a_terminal(tmp_path):
    """A fresh demo has tiers at once (so "my key accounts", `tiers` and cadence nudges work), and its answers show
    no raw Markdown."""
    lines = ["my key accounts", "tiers", "nudges 2026-12-19", "who is the decision maker at hanshan?",
             "寒山包装的决策人是谁?", "help", "tiers explain hanshan", "show 寒山 供应商", "as mia@example.com",
             "digest", "quit"]
    result = kam(tmp_path / "kam", "demo", input_text="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tiers: 16 accounts reviewed" in out
    assert "not been computed" not in out and "no review yet" not in out and "(importance ?" not in out
    key_answer = out.split("kam> ")[1]
    assert "Hanshan Packaging Co." in key_answer
    assert "overdue_contact" in out and "(key: every 30 days)" in out  # the cadence follows the tier
    assert "Li Wei" in out and "**" not in out
    assert "/kam" not in out and "@kam" not in out and "<http" not in out  # console syntax, not Slack's
    assert "Tetra Pak" in out and "Nothing needs your attention" not in out
