"""Shared fixtures: isolated settings per test, one embedding model per session, the sample knowledge base."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from knowledge.embeddings import UseMultilingual
from knowledge.importers.profiles import ingest_dir
from knowledge.index import Index
from knowledge.settings import Settings
from knowledge.store import Store
from tests.backends import Embedded, Postgres, make_backend
from tests.fakes.mock_slack import MockSlack

if TYPE_CHECKING:
    from tests.slack_harness import Bot

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "accounts"
SHARED_DATA = Path(os.environ.get("KAM_SHARED_DATA", ROOT.parent / "shared" / "data"))
BACKEND: Embedded | Postgres = Embedded()
SERVICE_VARIABLES = ("DATABASE_URL", "CHROMA_HOST", "CHROMA_PORT", "CHROMA_SSL")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=("embedded", "postgres"), default="embedded",
                     help="where test data lives: embedded SQLite + Chroma (default), or PostgreSQL + a Chroma server "
                          "(addresses from .ci/services.sh)")


def pytest_configure(config: pytest.Config) -> None:
    global BACKEND
    for name in SERVICE_VARIABLES:  # the backend option decides, never the developer's shell
        os.environ.pop(name, None)
    BACKEND = make_backend(config.getoption("--backend"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = "postgres_only" if BACKEND.name == "embedded" else "embedded_only"
    skip = pytest.mark.skip(reason=f"{other.replace('_', ' ')}: not on the {BACKEND.name} backend")
    once = pytest.mark.skip(reason="backend agnostic: run once, on the embedded pass")
    for item in items:
        if item.get_closest_marker(other):
            item.add_marker(skip)
        elif BACKEND.name != "embedded" and item.get_closest_marker("backend_agnostic"):
            item.add_marker(once)  # CI runs the suite twice within its 30 minutes: no second run of pure rendering


def pytest_unconfigure(config: pytest.Config) -> None:
    BACKEND.close()


def pytest_report_header(config: pytest.Config) -> str:
    return f"kam backend: {BACKEND.name}"


def backend_env(home: Path) -> dict[str, str]:
    """Environment for a `kam` subprocess over `home`: its database and index servers, if any."""
    return BACKEND.env(home)


@pytest.fixture(autouse=True)
def _drop_test_databases(tmp_path: Path) -> Iterator[None]:
    yield
    BACKEND.drop_under(tmp_path)


@pytest.fixture(scope="session")
def embedder() -> UseMultilingual:
    """The real offline model, loaded once for the whole run."""
    model = UseMultilingual()
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def make_settings(home: Path, **overrides: object) -> Settings:
    values = {**BACKEND.overrides(Path(home)), **overrides}
    return Settings(_env_file=None, kam_home=home, **values)  # type: ignore[call-arg]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "kam")


@pytest.fixture()
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings)
    yield s
    s.engine.dispose()  # its SQLite files: the whole suite must stay under select()'s 1,024 descriptors


@pytest.fixture()
def index(settings: Settings, embedder: UseMultilingual):
    idx = Index(settings, embedder=embedder)
    yield idx
    idx.close()


@pytest.fixture(scope="session")
def _sample_home(tmp_path_factory: pytest.TempPathFactory, embedder: UseMultilingual) -> Path:
    """The examples ingested and indexed once; tests get a private copy."""
    home = tmp_path_factory.mktemp("sample") / "kam"
    s = make_settings(home)
    store = Store(s)
    report = ingest_dir(store, EXAMPLES)
    assert not report.skipped, report.skipped
    with Index(s, embedder=embedder) as idx:
        idx.sync(store)
    store.engine.dispose()
    return home


@pytest.fixture()
def sample_kb(_sample_home: Path, tmp_path: Path, embedder: UseMultilingual):
    """(settings, store, index) over a private copy of the indexed sample accounts."""
    home = tmp_path / "kam"
    shutil.copytree(_sample_home, home)
    BACKEND.clone_home_db(_sample_home, home)
    (home / "index.lock").unlink(missing_ok=True)
    s = make_settings(home)
    store = Store(s)
    idx = Index(s, embedder=embedder)
    yield s, store, idx
    idx.close()
    store.engine.dispose()


# ------------------------------------------------------------------ Slack: a running bot against mock Slack
@pytest.fixture()
def mock() -> Iterator[MockSlack]:
    """A mock Slack Web API on 127.0.0.1 that knows the sample users (modules may define their own)."""
    from tests.slack_harness import mock_users

    with MockSlack(users=mock_users()) as m:
        yield m


@pytest.fixture()
def bot(sample_kb, mock: MockSlack) -> Iterator[Bot]:  # noqa: ANN001
    """The real bolt app behind its HTTP server on 127.0.0.1, over the sample accounts, talking to `mock`."""
    from tests.slack_harness import bot_settings, start_bot

    settings, store, index = sample_kb
    b = start_bot(bot_settings(settings.kam_home, mock), store, index, mock)
    yield b
    b.stop()
