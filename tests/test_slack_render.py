"""Block Kit rendering, the note classifier, the channel pacer and the portfolio skill (no HTTP)."""

from __future__ import annotations

import datetime as dt

from bot.render_answer import (
    FEEDBACK_BLOCK,
    MAX_SECTION,
    md_to_mrkdwn,
    plain_text,
    render_answer,
    split_text,
)
from bot.render_views import home_view
from bot.slack_client import ChannelPacer
from skills.ask.models import Answer, Source
from skills.notes import NoteClassifier, classify_note
from skills.portfolio import AccountLine, Portfolio, my_portfolio, upcoming_dates
from tests.fakes.mock_slack import assert_valid_blocks, assert_valid_view

TODAY = dt.date(2026, 11, 23)


def test_markdown_to_mrkdwn() -> None:
    md = "## Buyers\n**Karen Doyle** decides; see [the deck](https://x.example/a?b=1) & *note* <this>\n- one\n* two"
    out = md_to_mrkdwn(md)
    assert out.splitlines()[0] == "*Buyers*"
    assert "*Karen Doyle* decides" in out
    assert "<https://x.example/a?b=1|the deck>" in out
    assert "&amp; _note_ &lt;this&gt;" in out
    assert out.splitlines()[-2:] == ["• one", "• two"]
    assert md_to_mrkdwn("`a<b` and **x**") == "`a&lt;b` and *x*"
    assert plain_text("**Karen** see [deck](https://x.example)") == "Karen see deck (https://x.example)"


def test_split_text_respects_limit_and_keeps_everything() -> None:
    text = "\n\n".join(f"Paragraph {i}: " + "word " * 150 for i in range(30))
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(p) <= MAX_SECTION for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert all(len(p) <= 100 for p in split_text("x" * 1000, 100))


def _answer(text: str, n_sources: int = 2, stale: bool = False, status: str = "answered") -> Answer:
    sources = [Source(account=f"Account {i}", dimension="suppliers", updated=dt.date(2026, 3, 2),
                      owner="bob@example.com", id=f"a{i}:dim:suppliers") for i in range(n_sources)]
    return Answer(answer=text, status=status, language="en", sources=sources, stale=stale)  # type: ignore[arg-type]


def test_render_answer_has_sources_stale_warning_feedback_and_fallback() -> None:
    [msg] = render_answer(_answer("**Siemens** has 55%.", stale=True), answer_id=7, stale_days=180)
    assert msg["text"] == "Siemens has 55%."
    blocks = msg["blocks"]
    assert_valid_blocks(blocks)
    assert blocks[0]["text"]["text"] == "*Siemens* has 55%."
    texts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any("older than 180 days" in t for t in texts)
    assert any("*Account 0* · Suppliers · as of 2026-03-02 · bob@example.com" in t for t in texts)
    assert blocks[-1]["block_id"] == FEEDBACK_BLOCK
    assert [e["value"] for e in blocks[-1]["elements"]] == ["7", "7"]


def test_denied_answer_shows_no_sources_and_no_feedback() -> None:
    [msg] = render_answer(_answer("You don't have access to that account.", status="denied"), answer_id=3)
    assert [b["type"] for b in msg["blocks"]] == ["section"]


def test_long_answer_splits_into_valid_messages() -> None:
    text = "\n\n".join(f"- item {i}: " + "lorem ipsum " * 200 for i in range(80))
    messages = render_answer(_answer(text, n_sources=40), answer_id=1)
    assert len(messages) > 1
    for m in messages:
        assert_valid_blocks(m["blocks"])
        assert m["text"]
    assert messages[-1]["blocks"][-1]["block_id"] == FEEDBACK_BLOCK
    joined = " ".join(b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section")
    assert "item 79:" in joined


def test_note_classifier_keywords_and_embedding(embedder) -> None:  # noqa: ANN001
    assert classify_note("Siemens offered them an 8% discount in the tender").dimension == "suppliers"
    assert classify_note("新任采购总监是王磊").dimension == "organisation"
    assert classify_note("Capex budget for 2027 cut by 10%").dimension == "finance"
    guess = NoteClassifier(embedder).classify("Caterpillar wants kitted spare parts delivered faster")
    assert guess.dimension in ("downstream", "suppliers")
    blank = NoteClassifier(embedder).classify("zzz qqq")
    assert blank.method == "embedding" and 0 <= blank.confidence <= 1


def test_pacer_spaces_posts_per_channel() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)

    pacer = ChannelPacer(1.0, clock=lambda: now[0], sleep=sleep)
    assert pacer.wait("C1") == 0
    assert pacer.wait("C1") == 1.0
    assert pacer.wait("C1") == 2.0
    assert pacer.wait("C2") == 0  # other channels are not held back
    now[0] = 10.0
    assert pacer.wait("C1") == 0


def test_portfolio_of_rep_manager_and_dates(sample_kb) -> None:  # noqa: ANN001
    settings, store, _ = sample_kb
    alice = store.person("alice@example.com")
    folio = my_portfolio(store, settings, alice, TODAY)
    names = {a.name for accounts in folio.tiers.values() for a in accounts}
    assert "Hanshan Packaging Co." in names and "Acme Industrial" not in names
    assert all(u.date >= TODAY for u in folio.upcoming)
    assert any(u.kind == "birthday" for u in folio.upcoming)
    mia = my_portfolio(store, settings, store.person("mia@example.com"), TODAY)
    assert mia.account_count > folio.account_count
    dates = upcoming_dates(store, None, TODAY, 400)
    assert dates == sorted(dates, key=lambda u: (u.date, u.account, u.title))


def test_home_view_paginates_within_100_blocks() -> None:
    lines = [AccountLine(f"a{i}", f"Account {i:03d}", "bob@example.com", "key" if i % 2 else "opportunity",
                         0.5, ["finance.budget"], []) for i in range(130)]
    folio = Portfolio("bob@example.com", TODAY, {"key": [a for a in lines if a.tier == "key"],
                                                  "opportunity": [a for a in lines if a.tier != "key"]},
                      [], [], lines)
    views = [home_view(folio, str, page) for page in range(4)]
    for v in views:
        assert_valid_view(v)
    opened = [b["text"]["text"] for v in views for b in v["blocks"] if b.get("accessory", {}).get("type") == "button"]
    assert len(opened) == 130
    nav = views[0]["blocks"][-1]["elements"]
    assert [e["value"] for e in nav] == ["1"]


def test_manifest_declares_what_the_app_uses() -> None:
    import json
    from pathlib import Path

    manifest = json.loads((Path(__file__).resolve().parents[1] / "manifest.json").read_text())
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels", "app_home_opened"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "im:write", "commands", "users:read", "users:read.email"} <= scopes
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/kam"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] and manifest["settings"]["interactivity"]["is_enabled"]
    urls = {manifest["settings"]["event_subscriptions"]["request_url"],
            manifest["settings"]["interactivity"]["request_url"], manifest["features"]["slash_commands"][0]["url"]}
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
