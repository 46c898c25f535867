"""Start-up: `kam --help` and light commands load no heavy module they do not use (bench/startup.py times them)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, ROOT, backend_env

HEAVY = ("chromadb", "numpy", "langchain_core", "langchain_text_splitters", "slack_bolt", "slack_sdk", "onnxruntime",
         "tokenizers", "alembic", "rapidfuzz", "openai", "apscheduler", "model2vec", "sentence_transformers")


def _imported(args: list[str], env: dict[str, str]) -> set[str]:
    """The top-level packages a `kam` run imports (python -X importtime)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "cli.main", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in run.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_help_loads_no_heavy_module(tmp_path):
    env = {**os.environ, "KAM_HOME": str(tmp_path / "kam")}
    loaded = _imported(["--help"], env)
    assert "typer" in loaded  # the measurement works
    assert not loaded & {*HEAVY, "sqlalchemy", "pydantic", "pydantic_settings"}, loaded & {*HEAVY, "sqlalchemy"}


@pytest.mark.parametrize("args", [["accounts", "--json"], ["tiers", "--json"], ["show", "hanshan", "--json"]])
def test_reading_commands_load_no_index_model_or_slack(tmp_path, args):
    from knowledge.importers.profiles import ingest_dir
    from knowledge.store import Store
    from tests.conftest import make_settings

    home = tmp_path / "kam"
    store = Store(make_settings(home))
    ingest_dir(store, EXAMPLES)
    store.engine.dispose()
    env = {**os.environ, "KAM_HOME": str(home), **backend_env(home)}
    heavy = set(HEAVY) - {"show": {"rapidfuzz"}, "tiers": {"numpy"}}.get(args[0], set())  # what they do need
    assert not _imported(args, env) & heavy
