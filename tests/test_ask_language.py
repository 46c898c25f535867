"""Answers to Chinese questions are framed in Chinese throughout: every word the composer adds (labels, headings,
dates, tiers, empty-result messages, sources) comes from skills/ask/phrasebook.yaml in the question's language;
only stored data (names, titles, notes, documents) may stay in English."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path

import pytest
import yaml

from bot.render_answer import render_answer
from knowledge.kb import KnowledgeBase
from skills.ask import ask

TODAY = dt.date(2026, 11, 29)
BOOK = yaml.safe_load((Path(__file__).parents[1] / "skills" / "ask" / "phrasebook.yaml").read_text("utf-8"))
ENUM_KEYS = {"kind", "role", "influence", "dimension", "updated", "date", "as_of", "birthday", "remind"}
QUESTIONS = [
    "寒山包装的决策人是谁?", "寒山包装的经济决策人是谁？", "寒山包装有哪些联系人?", "寒山包装联系人的生日是什么时候?",
    "李伟的邮箱是什么?", "寒山包装的预算是多少?", "寒山包装的战略是什么?", "寒山包装的供应商有哪些?",
    "寒山包装的竞争对手是谁?", "寒山包装的下游客户是谁?", "寒山包装什么时候续约?", "寒山包装的关键日期",
    "上次联系寒山包装是什么时候?", "寒山包装是什么级别的客户?", "寒山包装的最新备注", "介绍一下寒山包装",
    "康源制药的组织结构", "我的关键客户", "我的客户有哪些?", "未来90天的续约", "本月的生日", "下个月有哪些关键日期?",
    "哪些客户没有决策人?", "哪些客户超过60天没联系?", "哪些客户的信息过时了?", "Tetra Pak 是哪些客户的供应商?",
    "我有多少个客户?", "按营收排序我的客户", "今天天气怎么样?", "王小明的电话是多少?", "Acme 的决策人是谁?",
    "锐芯电子的竞争对手", "2027年3月之前的续约", "哪些客户只有一个联系人?",
]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_phrase_has_both_languages_with_the_same_fields():
    entries = [*BOOK["phrases"].items(), *BOOK["windows"].items(),
               *(item for table in BOOK["labels"].values() for item in table.items())]
    assert len(entries) > 150
    for key, texts in entries:
        assert set(texts) == {"en", "zh"}, key
        if key != "month":  # a month is named by its name in English, by its number in Chinese
            assert _fields(str(texts["en"])) == _fields(str(texts["zh"])), key
        prose = re.sub(r"\{[^}]*\}|`[^`]*`|kam-bot", "", str(texts["zh"]))
        assert not re.search(r"[A-Za-z]{2,}", prose), (key, texts["zh"])  # fields, commands and symbols only


def _data_words(store) -> set[str]:
    """Every Latin word stored in the profiles, except enumerations the answer must translate (kind, role, ...)."""
    words: set[str] = set()

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key not in ENUM_KEYS:
            words.update(w.casefold() for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", value))

    for summary in store.summaries():
        walk(store.load_profile(summary.id).model_dump(mode="json"))
    for person in store.people():
        walk(person.model_dump(mode="json") if hasattr(person, "model_dump") else vars(person))
    return words


def _texts(blocks: object) -> list[str]:
    """Every text a person sees in Block Kit (section and context texts, button labels)."""
    if isinstance(blocks, dict):
        own = [blocks["text"]] if isinstance(blocks.get("text"), str) else []
        return own + [t for k, v in blocks.items() if k not in ("text", "type") or isinstance(v, dict)
                      for t in _texts(v)]
    if isinstance(blocks, list):
        return [t for b in blocks for t in _texts(b)]
    return []


def _framing_words(text: str, data: set[str]) -> list[str]:
    text = re.sub(r"`[^`]*`", " ", text)  # a command to type is not prose
    text = re.sub(r"\[[\w:\-]+\]|&(?:amp|lt|gt);", " ", text)  # source ids, Slack's escapes
    text = re.sub(r"\S+@\S+", " ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", text) if w.casefold() not in data and len(w) > 1]


@pytest.fixture()
def tiered_kb(sample_kb):
    from skills.tiering.config import load_config
    from skills.tiering.history import review

    settings, store, index = sample_kb
    review(store, load_config(), today=TODAY)
    return KnowledgeBase(settings, store, index)


def test_chinese_questions_get_chinese_answers_throughout(tiered_kb, capsys):
    from cli.ask_cmds import print_answer

    data = _data_words(tiered_kb.store)
    leaks = {}
    for question in QUESTIONS:
        answer = ask(tiered_kb, question, "alice@example.com", today=TODAY)
        assert answer.language == "zh", question
        slack = " ".join(_texts([m["blocks"] for m in render_answer(answer, 1)]))
        print_answer(answer)
        console = capsys.readouterr().out
        for where, text in (("answer", answer.answer), ("slack", slack), ("console", console)):
            found = _framing_words(text, data)
            if found:
                leaks[f"{question} ({where})"] = found
    assert not leaks, "\n".join(f"{k}: {v}" for k, v in leaks.items())


def test_english_questions_keep_english_framing(tiered_kb):
    answer = ask(tiered_kb, "who are my key accounts?", "alice@example.com", today=TODAY)
    assert answer.language == "en" and "key" in answer.answer and "关键" not in answer.answer
    dates = ask(tiered_kb, "renewals in the next 90 days", "alice@example.com", today=TODAY)
    assert "in the next 90 days" in dates.answer and "renewal" in dates.answer and "(in 21 days)" in dates.answer
