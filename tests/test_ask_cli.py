"""`kam ask --json`: the contract, run as a user runs it (a real subprocess, a fresh KAM_HOME)."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES
from tests.test_cli import kam


def test_kam_ask_json_contract(tmp_path):
    home = tmp_path / "kam"
    assert kam(home, "ingest", str(EXAMPLES), "--json").returncode == 0
    out = kam(home, "ask", "who's the economic buyer at hanshan?", "--as", "alice@example.com", "--json",
              "--today", "2026-11-23")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"answer", "status", "language", "sources", "path", "fallback_reason", "evidence"}
    assert data["fallback_reason"] is None and data["evidence"] == []  # no LLM configured; structured fields
    assert data["status"] == "answered" and data["language"] == "en" and data["path"] == "offline"
    assert "Li Wei" in data["answer"]
    src = data["sources"][0]
    assert set(src) == {"account", "dimension", "updated", "owner", "id"}
    assert src["account"] == "Hanshan Packaging Co." and src["updated"] == "2026-08-20"
    assert src["owner"] == "alice@example.com" and src["id"].startswith("hanshan-packaging-co:contact:")

    denied = json.loads(kam(home, "ask", "what is Acme's budget?", "--as", "alice@example.com", "--json").stdout)
    assert denied["status"] == "denied" and denied["sources"] == [] and "USD" not in denied["answer"]

    conv = ["--as", "U0ALICE001", "--json", "--conversation", "thread-1"]
    assert kam(home, "ask", "寒山包装的采购决策人是谁?", *conv).returncode == 0
    follow = json.loads(kam(home, "ask", "and their suppliers?", *conv).stdout)
    assert follow["language"] == "en" and "Tetra Pak" in follow["answer"]

    bad = kam(home, "ask", "budget?", "--as", "nobody@example.com")
    assert bad.returncode != 0 and "nobody@example.com" in bad.stderr
