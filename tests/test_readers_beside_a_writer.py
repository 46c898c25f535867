"""Read-only commands work while another process owns the embedded index (issue 11): `kam ask`, `search`,
`accounts` and `show` beside a running `kam demo` (which holds the index like `kam run`); writers are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_", "OPENAI_"))}
    env.update(KAM_HOME=str(home), COLUMNS="200")
    return env


def kam(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=_env(home), capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.embedded_only  # a Chroma server has no owning process: every reader opens it
def test_readers_work_beside_the_demo_and_writers_are_refused(sample_kb) -> None:  # noqa: ANN001
    settings, store, index = sample_kb
    index.close()
    store.engine.dispose()
    home = settings.home
    log = open(home.parent / "demo.log", "w+")  # noqa: SIM115 - read while it runs
    demo = subprocess.Popen([sys.executable, "-m", "cli.main", "demo", "--data", str(EXAMPLES)], cwd=ROOT,
                            env=_env(home), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "imported" not in (log.seek(0) or log.read()):
            time.sleep(0.2)
        assert demo.poll() is None and (home / "index.pid").read_text().strip() == str(demo.pid)

        accounts = kam(home, "accounts", "--json")
        assert accounts.returncode == 0 and len(json.loads(accounts.stdout)) == 16
        shown = kam(home, "show", "Acme Industrial", "--json")
        assert shown.returncode == 0 and json.loads(shown.stdout)["account"] == "Acme Industrial"
        hits = kam(home, "search", "Siemens drives", "--as", "bob@example.com", "--json")
        assert hits.returncode == 0, hits.stderr
        found = json.loads(hits.stdout)
        assert found and any(h["vector_rank"] is not None for h in found)  # vectors read from the ledger
        answer = kam(home, "ask", "who decides at Acme?", "--as", "bob@example.com", "--json")
        assert answer.returncode == 0, answer.stderr
        assert "Karen Doyle" in answer.stdout

        writer = kam(home, "ingest", str(EXAMPLES))
        assert writer.returncode == 3 and "another kam process" in writer.stderr
    finally:
        demo.stdin.close()  # type: ignore[union-attr]
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
