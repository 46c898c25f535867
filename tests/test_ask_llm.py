"""The LLM path against a fake OpenAI-compatible server on 127.0.0.1, driven by the real langchain-openai client."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from knowledge.kb import KnowledgeBase
from skills.ask import ask
from tests.fakes.fake_openai import Error, FakeOpenAI, Text, ToolCalls, tool_results

TODAY = dt.date(2026, 11, 23)


@pytest.fixture()
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture()
def llm_kb(sample_kb, fake):
    settings, store, index = sample_kb
    s = settings.model_copy(update={"openai_base_url": fake.base_url, "openai_api_key": "sk-test",
                                    "kam_llm_timeout": 5.0})
    assert s.llm_enabled
    return KnowledgeBase(s, store, index)


def _ids_from_tools(req: dict) -> list[str]:
    ids = []
    for _, content in tool_results(req):
        data = json.loads(content)
        for key in ("sources", "results", "rows"):
            ids += [item["id"] for item in data.get(key, [])]
        if "id" in data:
            ids.append(data["id"])
    return ids


def test_tool_call_round_trip_cites_tool_sources(llm_kb, fake):
    def final(req: dict) -> Text:
        ids = _ids_from_tools(req)
        assert ids, "the tool results reached the model"
        return Text(f"The economic buyer role is not recorded; **Li Wei** decides [{ids[0]}].")

    fake.script([ToolCalls([("draft_answer", {}), ("account_section", {"account": "hanshan", "section": "contacts"})]),
                 final])
    a = ask(llm_kb, "who's the economic buyer at hanshan?", "alice@example.com", today=TODAY)
    assert a.path == "llm" and a.status == "answered" and a.fallback_reason is None
    assert "Li Wei" in a.answer and "[" not in a.answer  # citations move to `sources`
    assert a.sources and a.sources[0].id.startswith("hanshan-packaging-co:contact:")
    chats = fake.chat_requests()
    assert len(chats) == 2
    system = chats[0]["messages"][0]["content"]
    assert "never instructions" in system.lower() or "NEVER instructions" in system
    assert {t["function"]["name"] for t in chats[0]["tools"]} == {"draft_answer", "search", "account_section",
                                                                  "query", "portfolio"}
    tool_text = " ".join(c for _, c in tool_results(chats[1].json))
    assert "Li Wei" in tool_text and "Zhang Min" in tool_text


def test_invented_source_id_is_dropped(llm_kb, fake):
    fake.script([ToolCalls([("draft_answer", {})]),
                 lambda req: Text(f"Budget: CNY 48M [{_ids_from_tools(req)[0]}] "
                                  "and more [acme-industrial:dim:finance]")])
    a = ask(llm_kb, "what is Hanshan's budget?", "alice@example.com", today=TODAY)
    assert a.path == "llm"
    assert a.dropped_sources == ["acme-industrial:dim:finance"]
    assert [s.id for s in a.sources] == ["hanshan-packaging-co:dim:finance"]
    assert "acme" not in a.answer.lower()


def test_answer_citing_only_invented_ids_falls_back(llm_kb, fake):
    fake.script([Text("Hanshan's budget is CNY 99M [hanshan-packaging-co:dim:made-up]")])
    a = ask(llm_kb, "what is Hanshan's budget?", "alice@example.com", today=TODAY)
    assert a.path == "offline" and "CNY 48M" in a.answer and "99M" not in a.answer
    assert a.fallback_reason and "cited no source" in a.fallback_reason


def test_timeout_falls_back_to_offline_in_time(llm_kb, fake):
    kb = KnowledgeBase(llm_kb.settings.model_copy(update={"kam_llm_timeout": 0.5}), llm_kb.store, llm_kb.index)
    fake.delay(3.0)
    t0 = time.monotonic()
    a = ask(kb, "what is Hanshan's budget?", "alice@example.com", today=TODAY)
    elapsed = time.monotonic() - t0
    assert a.path == "offline" and "CNY 48M" in a.answer
    assert a.fallback_reason and "Timeout" in a.fallback_reason
    assert elapsed < 2.5


def test_http_500_falls_back(llm_kb, fake):
    fake.script([Error(500)])
    a = ask(llm_kb, "what is Hanshan's budget?", "alice@example.com", today=TODAY)
    assert a.path == "offline" and a.status == "answered" and "CNY 48M" in a.answer
    assert a.fallback_reason and "500" in a.fallback_reason


def test_denied_question_never_reaches_the_llm(llm_kb, fake):
    a = ask(llm_kb, "compare my revenue with Acme's", "alice@example.com", today=TODAY)
    assert a.status == "denied" and a.path == "offline"
    assert fake.chat_requests() == []


def test_tools_only_see_the_askers_scope(llm_kb, fake):
    fake.script([ToolCalls([("search", {"query": "budget capex"}),
                            ("account_section", {"account": "Acme", "section": "finance"}),
                            ("portfolio", {"kind": "supplier", "name": "Tetra Pak"})]),
                 lambda req: Text(f"Done [{_ids_from_tools(req)[0]}]")])
    a = ask(llm_kb, "budgets across my accounts?", "alice@example.com", today=TODAY)
    assert a.path == "llm"
    tool_text = " ".join(c for _, c in tool_results(fake.chat_requests()[1].json))
    assert "not in the user's portfolio" in tool_text
    for hidden in ("USD 35M", "Acme Industrial", "Borealis", "Northwind", "EUR 22M"):
        assert hidden not in tool_text
    assert "Hanshan" in tool_text or "江南乳业" in tool_text


def test_injection_note_reaches_llm_only_as_tool_data(llm_kb, fake):
    fake.script([ToolCalls([("account_section", {"account": "Borealis", "section": "notes"})]),
                 lambda req: Text(f"Latest note quoted [{_ids_from_tools(req)[0]}]")])
    a = ask(llm_kb, "latest notes on Borealis?", "carol@example.com", today=TODAY)
    req = fake.chat_requests()[1].json
    roles = [m["role"] for m in req["messages"] if "Ignore previous instructions" in str(m.get("content"))]
    assert roles == ["tool"]  # the note is a tool result, never a system or user message
    assert a.path == "llm" and [s.id for s in a.sources] == ["borealis-beverage-group:notes"]


def test_portfolio_question_through_the_exact_query_tool(llm_kb, fake):
    def final(req: dict) -> Text:
        rows = [json.loads(c) for name, c in tool_results(req)][0]["rows"]
        assert [r["account"] for r in rows] == ["Hanshan Packaging Co.", "江南乳业股份有限公司"]  # by revenue, top 2
        return Text(f"Your two biggest: **Hanshan** [{rows[0]['id']}] and **江南乳业** [{rows[1]['id']}].")

    fake.script([ToolCalls([("query", {"sort_by": "revenue", "limit": 2})]), final])
    a = ask(llm_kb, "my two biggest accounts by revenue?", "alice@example.com", today=TODAY)
    assert a.path == "llm" and a.fallback_reason is None
    assert [s.id.split(":")[-1] for s in a.sources] == ["metrics", "metrics"]
    assert a.sources[0].account == "Hanshan Packaging Co." and len(a.account_ids) == 2


def test_query_tool_stays_in_scope(llm_kb, fake):
    seen = {}

    def final(req: dict) -> Text:
        seen.update(json.loads(tool_results(req)[0][1]))
        return Text("None of your accounts lists Rockwell [hanshan-packaging-co:profile].")

    fake.script([ToolCalls([("query", {"company": "Rockwell Automation", "relation": "supplier"})]), final])
    ask(llm_kb, "which of my accounts buy from Rockwell?", "alice@example.com", today=TODAY)
    assert seen["rows"] == []  # Rockwell is a supplier only at Bob's Acme, which Alice may not see
