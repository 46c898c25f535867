"""Ask answers "what changed at X this month?" from the profile history (also in Chinese)."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge.kb import KnowledgeBase
from skills.ask import ask
from skills.ask.changes import period
from skills.ask.dates import Window

TODAY = dt.date(2027, 3, 20)


@pytest.fixture()
def kb(sample_kb):
    settings, store, index = sample_kb
    hanshan = store.find_account("Hanshan")
    store.edit_profile(hanshan, {"finance.budget": "CNY 9m for 2027"}, source="slack", actor="bob@example.com",
                       at=dt.datetime(2027, 3, 5, 10, 0))
    store.edit_profile(hanshan, {"region": "Jiangsu"}, source="cli", actor="mia@example.com",
                       at=dt.datetime(2027, 2, 10, 9, 0))
    return KnowledgeBase(settings, store, index)


@pytest.mark.parametrize("question", ["what changed at Hanshan this month?", "寒山这个月有什么变化",
                                      "who edited Hanshan's profile this month?"])
def test_changes_this_month(kb, question):
    answer = ask(kb, question, "alice@example.com", today=TODAY)
    assert answer.status == "answered", answer.answer
    assert "finance.budget" in answer.answer and "CNY 9m for 2027" in answer.answer
    assert "bob@example.com" in answer.answer
    assert "Jiangsu" not in answer.answer  # February is not this month
    assert [s.id for s in answer.sources] == ["hanshan-packaging-co:history"]
    assert answer.language == ("zh" if "寒山" in question else "en")


def test_a_longer_period_and_nothing_changed(kb):
    answer = ask(kb, "what changed at Hanshan in the last 60 days?", "alice@example.com", today=TODAY)
    assert "Jiangsu" in answer.answer and "CNY 9m" in answer.answer
    quiet = ask(kb, "what changed at Hanshan in the last 3 days?", "alice@example.com", today=TODAY)
    assert quiet.status == "unknown" and "Nothing changed" in quiet.answer


def test_changes_of_a_hidden_account_are_denied(kb):
    answer = ask(kb, "what changed at Acme this month?", "alice@example.com", today=TODAY)
    assert answer.status == "denied" and "finance" not in answer.answer


def test_period_looks_back():
    today = dt.date(2027, 3, 20)
    assert period(Window(today, dt.date(2027, 3, 31), "this month"), None, today) == (dt.date(2027, 3, 1), today)
    assert period(Window(today, today, "this week"), None, today) == (dt.date(2027, 3, 15), today)
    assert period(None, 14, today) == (dt.date(2027, 3, 6), today)
    assert period(Window(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "in October 2026"), None, today) == (
        dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert period(None, None, today) == (dt.date(2027, 2, 18), today)
