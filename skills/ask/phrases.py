"""The answer's framing in the question's language (English, Chinese). Quoted data is never translated."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def detect_language(question: str, name_spans: list[tuple[int, int]] = ()) -> str:
    """"zh" when Chinese is written outside the account names (a Chinese name in an English question stays "en")."""
    text = question.casefold()
    for a, b in sorted(name_spans, reverse=True):
        text = text[:a] + " " + text[b:]
    return "zh" if _CJK.search(text) else "en"


_BOOK = yaml.safe_load((Path(__file__).parent / "phrasebook.yaml").read_text(encoding="utf-8"))
LANGUAGES = ("en", "zh")


def _by_language(entries: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """{key: {en, zh}} as {en: {key: phrase}, zh: {key: phrase}}, the shape the composer looks phrases up in."""
    return {lang: {key: str(texts[lang]) for key, texts in entries.items()} for lang in LANGUAGES}


_T = _by_language(_BOOK["phrases"])
_WINDOWS = _by_language(_BOOK["windows"])
LABELS = {table: _by_language(entries) for table, entries in _BOOK["labels"].items()}
ROLE_LABELS = LABELS["roles"]
FIELD_LABELS = LABELS["fields"]
DIM_LABELS = LABELS["dimensions"]
METRIC_LABELS = LABELS["metrics"]
KIND_LABELS = LABELS["kinds"]
ATTR_LABELS = LABELS["attributes"]
TIER_LABELS = LABELS["tiers"]


def t(lang: str, key: str, **kw: object) -> str:
    return _T.get(lang, _T["en"])[key].format(**kw)


def label(table: dict[str, dict[str, str]], lang: str, key: str) -> str:
    return table.get(lang, table["en"]).get(key, key.replace("_", " "))


def window_label(lang: str, window: object) -> str:
    """A date window (skills/ask/dates.py's Window, or its key and values) in the question's language."""
    key, values = getattr(window, "key", None), dict(getattr(window, "values", ()) or ())
    if key is None and isinstance(window, tuple):
        key, values = window[0], dict(window[1])
    if "month" in values and isinstance(values["month"], dt.date):  # a month is named in the language's own way
        first = values["month"]
        values["month"] = _WINDOWS[lang if lang in _WINDOWS else "en"]["month"].format(
            month_name=first.strftime("%B"), month=first.month, year=first.year)
    return _WINDOWS.get(lang, _WINDOWS["en"])[key].format(**values)
