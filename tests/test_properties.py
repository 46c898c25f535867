"""Property-based tests (hypothesis) of hostile input (issue 11): generated profile YAML, people.yaml, CRM CSV,
filing JSON and Slack bodies. Whatever comes in:

* the command either accepts it or refuses it with an error that names the file (Slack: a 4xx naming the problem);
* no other exception escapes (no traceback), each case finishes in bounded time and memory;
* everything stored before is unchanged when the input is refused.

The example counts are kept small (a few hundred cases in all, well under two minutes on 2 cores); BENCHMARKS.md
records a larger run. `KAM_HYPOTHESIS_SCALE=10` multiplies them.
"""

from __future__ import annotations

import json
import os
import resource
import string
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.importers.crm import import_crm
from knowledge.importers.filing import import_filings
from knowledge.importers.profiles import ingest_dir
from knowledge.loader import ProfileError
from knowledge.store import Store
from tests.conftest import make_settings
from tests.fakes import slack_requests as sr
from tests.slack_harness import EMAIL_USER, Bot

SCALE = max(1, int(os.environ.get("KAM_HYPOTHESIS_SCALE", "1")))
CASE_SECONDS = 10.0  # no single case may take longer (the limits make the worst ones fail fast)
MEMORY_GROWTH_MB = 400  # the whole suite may not grow the process by more than this

STATS: dict[str, dict[str, int]] = {}


def _settings(examples: int) -> Any:
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def _count(suite: str, outcome: str) -> None:
    STATS.setdefault(suite, {}).setdefault(outcome, 0)
    STATS[suite][outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def _bounded_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print("\nproperty cases:", json.dumps(STATS, sort_keys=True), f"max RSS growth {grown_mb:.0f} MB")
    assert grown_mb < MEMORY_GROWTH_MB


# ------------------------------------------------------------------ values YAML can hold, hostile ones included
SCALARS = st.one_of(
    st.text(max_size=40), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.sampled_from([".inf", "-.inf", ".nan", "true", "no", "~", "2026-02-31", "--07-09", "U0ALICE001", "a@b.c",
                     "=CMD('calc')", "\x00", "\ufeff", "Ｈａｎｓｈａｎ", "9" * 5000, "w" * 25_000]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                        st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                      max_leaves=20)
PROFILE_KEYS = ["account", "aliases", "owner", "team", "industry", "region", "background", "finance", "organisation",
                "competitors", "suppliers", "downstream", "contacts", "key_dates", "interactions", "metrics",
                "notes", "summary", "revenue", "share", "remind", "date", "updated", "items", "name", "kind"]
RAW_SNIPPETS = st.sampled_from([
    "? [a, b]\n: 1\n", "x: !!timestamp notadate\n", "x: !!int many\n", "x: !!binary '@@'\n",
    "x: !!python/name:os.system\n",
    "a: &a [x, x, x, x]\nb: [*a, *a, *a, *a]\n", "x: *nowhere\n", "x: [\n", "\t- tab\n", "x: 1\nx: 2\n",
    "summary: " + "[" * 50_000 + "]" * 50_000 + "\n", "k: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
    "--- a\n--- b\n", "%YAML 9.9\n---\nx: 1\n", "x: '" + "y" * 10 + "\n",
])


def _profile_mapping() -> st.SearchStrategy[dict[str, Any]]:
    base = st.fixed_dictionaries({"account": st.one_of(st.text(min_size=1, max_size=30), SCALARS),
                                  "owner": st.one_of(st.just("alice@example.com"), SCALARS)})
    extra = st.dictionaries(st.sampled_from(PROFILE_KEYS), VALUES, max_size=6)
    return st.tuples(base, extra).map(lambda t: {**t[0], **t[1]})


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError):
        return "x: 1\n"


PROFILE_TEXTS = st.one_of(
    _profile_mapping().map(_dump),
    st.tuples(_profile_mapping().map(_dump), RAW_SNIPPETS).map("".join),
    st.text(max_size=300),
    st.binary(max_size=300),
)

GOOD = "account: Good Co\nowner: alice@example.com\nfinance:\n  revenue: USD 10M\n  updated: 2026-10-01\n"
PEOPLE = "- {email: alice@example.com, role: rep, manager: mia@example.com}\n- {email: mia@example.com, role: admin}\n"


def _snapshot(store: Store) -> tuple:
    ids = sorted(store.account_ids())
    return ids, store.load_profiles(ids), [p.model_dump() for p in store.people()]


def _timed(suite: str, work: Any) -> Any:
    started = time.monotonic()
    try:
        return work()
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < CASE_SECONDS, f"{suite}: one case took {elapsed:.1f} s"


def test_hostile_profiles_and_people(tmp_path: Path) -> None:
    store = Store(make_settings(tmp_path / "kam"))
    data = tmp_path / "profiles"
    data.mkdir()
    (data / "good.yaml").write_text(GOOD)
    (data / "people.yaml").write_text(PEOPLE)
    assert not ingest_dir(store, data).skipped
    baseline = _snapshot(store)

    @_settings(120)
    @given(text=PROFILE_TEXTS, as_people=st.booleans())
    def check(text: str | bytes, as_people: bool) -> None:
        target = data / ("people.yaml" if as_people else "hostile.yaml")
        target.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            report = _timed("profiles", lambda: ingest_dir(store, data))
        finally:
            target.unlink(missing_ok=True)
        reasons = dict(report.skipped)
        if str(target) in reasons:  # refused: named, located, and nothing stored changed
            _count("profile YAML" if not as_people else "people.yaml", "refused")
            assert reasons[str(target)].startswith(str(target))
            assert len(reasons[str(target)]) < 2000
            assert _snapshot(store) == baseline
        else:  # accepted: put the directory back as it was for the next case
            _count("profile YAML" if not as_people else "people.yaml", "accepted")
            (data / "people.yaml").write_text(PEOPLE)
            ingest_dir(store, data)
            assert _snapshot(store) == baseline

    check()


# ------------------------------------------------------------------ CRM exports
CELL = st.one_of(
    st.text(alphabet=string.printable, max_size=20),
    st.sampled_from(['"', '"unclosed', 'a"b', '=CMD("x")', "@SUM(A1)", "+1+1", "-12.5", "9999-12-31", "1e400",
                     "nan", "2017-13-45", "line\nbreak", "x" * 20_000, "", ",", "\r"]),
)
ACCOUNTS_HEADER = "account,sector,year_established,revenue,employees,office_location,subsidiary_of"
PIPELINE_HEADER = "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value"


def _csv_line(cells: list[str], quote: bool) -> str:
    return ",".join((f'"{c}"' if quote else c) for c in cells)


def _export(directory: Path, accounts: list[str], pipeline: list[str]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "products.csv").write_text("product,series,sales_price\nGTX Pro,GTX,4821\n")
    (directory / "sales_teams.csv").write_text("sales_agent,manager,regional_office\nAnna Snelling,Dustin B,Central\n")
    (directory / "accounts.csv").write_text("\n".join([ACCOUNTS_HEADER, *accounts]) + "\n")
    (directory / "sales_pipeline.csv").write_text("\n".join([PIPELINE_HEADER, *pipeline]) + "\n")


GOOD_ACCOUNTS = ["Acme Co,software,1999,10.5,100,United States,"]
GOOD_PIPELINE = ["OPP1,Anna Snelling,GTX Pro,Acme Co,Won,2016-10-20,2017-03-01,1054",
                 "OPP2,Anna Snelling,GTX Pro,Acme Co,Engaging,2017-01-20,,"]


def test_hostile_crm_exports(tmp_path: Path) -> None:
    store = Store(make_settings(tmp_path / "kam"))
    good = tmp_path / "good"
    _export(good, GOOD_ACCOUNTS, GOOD_PIPELINE)
    assert not import_crm(store, good).skipped
    baseline = _snapshot(store)
    rows = st.lists(st.tuples(st.lists(CELL, min_size=1, max_size=9), st.booleans()), min_size=1, max_size=4)

    @_settings(80)
    @given(accounts=rows, pipeline=rows, which=st.sampled_from(["accounts", "pipeline", "both"]))
    def check(accounts: list, pipeline: list, which: str) -> None:
        bad = Path(tempfile.mkdtemp(dir=tmp_path))
        acc = GOOD_ACCOUNTS + [_csv_line(c, q) for c, q in accounts] if which != "pipeline" else GOOD_ACCOUNTS
        pip = GOOD_PIPELINE + [_csv_line(c, q) for c, q in pipeline] if which != "accounts" else GOOD_PIPELINE
        _export(bad, acc, pip)
        try:
            report = _timed("crm", lambda: import_crm(store, bad))
        except ProfileError as exc:
            _count("CRM CSV", "refused")
            assert str(exc).startswith(str(bad)) and len(str(exc)) < 2000
            assert _snapshot(store) == baseline
            return
        _count("CRM CSV", "accepted")
        assert all(reason for _, reason in report.skipped)
        # put the store back to the good export's state for the next case (an accepted export may add accounts)
        for account_id in set(store.account_ids()) - set(baseline[0]):
            with store.session() as s:
                from sqlalchemy import delete

                from knowledge.db import AccountRow

                s.execute(delete(AccountRow).where(AccountRow.id == account_id))
        import_crm(store, good)

    check()


# ------------------------------------------------------------------ 10-K filing JSON
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                     st.text(max_size=30)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=15)
FILING_KEYS = ["cik", "company", "filing_type", "filing_date", "period_of_report", "item_1", "item_1A", "item_7"]


def _filing_text(extra: dict, raw: str | None) -> str:
    base = {"cik": "1", "company": "ACME CORP", "filing_type": "10-K", "filing_date": "2024-02-01",
            "item_1": "Item 1. Business\nCompetition\nWe compete with many. " * 5}
    base.update(extra)
    text = json.dumps(base)
    return raw.replace("@", text) if raw else text


FILING_RAW = st.sampled_from([None, "@", "[" * 60_000 + "]" * 60_000, '{"item_1": ' + "[" * 40 + "]" * 40 + "}",
                              "@@", "@,", '{"cik": 1e999}', '{"cik": ' + "9" * 5000 + "}", "\ufeff@", "{", ""])


def test_hostile_filings(tmp_path: Path) -> None:
    store = Store(make_settings(tmp_path / "kam"))
    good = tmp_path / "good.json"
    good.write_text(_filing_text({}, None))
    assert not import_filings(store, [good]).skipped
    baseline = _snapshot(store)

    @_settings(60)
    @given(extra=st.dictionaries(st.sampled_from(FILING_KEYS), JSON_VALUES, max_size=4), raw=FILING_RAW)
    def check(extra: dict, raw: str | None) -> None:
        path = tmp_path / "hostile.json"
        path.write_text(_filing_text(extra, raw), encoding="utf-8", errors="surrogatepass")
        report = _timed("filing", lambda: import_filings(store, [path], account="ACME CORP"))
        if report.skipped:
            _count("filing JSON", "refused")
            [(source, reason)] = report.skipped
            assert str(path) in reason and len(reason) < 2000
            assert _snapshot(store) == baseline
        else:
            _count("filing JSON", "accepted")
            assert not import_filings(store, [good]).skipped  # back to the good filing's documents

    check()


# ------------------------------------------------------------------ Slack bodies, over real HTTP
def _json_body(data: Any) -> bytes:
    return json.dumps(data).encode()


SLACK_BODIES = st.one_of(
    st.builds(lambda event, extra: _json_body({"type": "event_callback", "event_id": "Ev1", "event": event, **extra}),
              VALUES, st.dictionaries(st.sampled_from(["type", "event_id", "team_id"]), VALUES, max_size=2)),
    st.builds(lambda changes: _json_body({**json.loads(sr.event_body("app_mention", text="hi", user=EMAIL_USER)),
                                          "event": {**json.loads(sr.event_body("app_mention"))["event"],
                                                    **changes}}),
              st.dictionaries(st.sampled_from(["type", "user", "channel", "ts", "text", "thread_ts", "subtype"]),
                              VALUES, max_size=3)),
    st.builds(lambda payload: b"payload=" + json.dumps(payload).encode(), VALUES),
    st.builds(lambda form: "&".join(f"{k}={v}" for k, v in form.items()).encode(),
              st.dictionaries(st.sampled_from(["command", "text", "user_id", "payload", "response_url"]),
                              st.text(max_size=20), max_size=4)),
    st.sampled_from([b"[" * 100_000 + b"]" * 100_000, b'{"event": ' + b"{" * 2000, b"", b"\xff\xfe", b"null"]),
    st.binary(max_size=200),
)


def test_hostile_slack_bodies(bot: Bot) -> None:
    @_settings(100)
    @given(body=SLACK_BODIES)
    def check(body: bytes) -> None:
        kind = "application/x-www-form-urlencoded" if body.lstrip()[:1] not in (b"{", b"[") else "application/json"
        headers = sr.signed_headers("8f742231b10e8888abcd99yyyzzz85a5", body, content_type=kind)
        status, text = _timed("slack", lambda: sr.post(bot.url, body, headers, timeout=30))
        assert status in (200, 400, 401, 404), (status, text[:300])
        _count("Slack bodies", str(status))

    check()
    bot.settle()
    assert bot.send(sr.slash_command_body(text="help"))[0] == 200  # still serving
