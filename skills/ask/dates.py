"""Time windows in questions, English and Chinese: "before end of Feb", "in the next 30 days", "this month",
"Q1", "next two weeks", "3月前", "下个月", "2027-02-01 之前". Calendar arithmetic is dateutil's."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

MONTHS = {m: i for i, names in enumerate(
    ["january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug",
     "september sept sep", "october oct", "november nov", "december dec"], 1) for m in names.split()}
_ZH_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11,
           "十二": 12}
_MONTH_RE = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?(?:\s+(\d{4}))?")
_ZH_MONTH_RE = re.compile(r"(\d{4}年)?(十[一二]?|[一二三四五六七八九]|1[0-2]|[1-9])月(?:份)?(底|末)?")
_SPAN_RE = re.compile(r"(?:next|within|in the next|coming|past|last|in)\s+(\d+)\s*(days?|weeks?|months?)|"
                      r"(\d+)\s*(days?|weeks?|months?)|(?:未来|最近|近|过去)?\s*(\d+)\s*(天|周|个月|月)")


@dataclass
class Window:
    start: dt.date
    end: dt.date  # inclusive
    label: str  # in English, for logs and the LLM
    key: str = "next_days"  # how answers phrase it: a `windows` entry of skills/ask/phrasebook.yaml
    values: tuple[tuple[str, object], ...] = ()  # that phrase's fields


_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20,
                 "thirty": 30, "forty": 40, "forty-five": 45, "sixty": 60, "ninety": 90, "couple of": 2, "few": 3,
                 "两": 2, "半": 0}


def _digits(q: str) -> str:
    """Number words as digits ("next two weeks" -> "next 2 weeks", "三十天" -> "30天") so one pattern reads both."""
    q = re.sub(r"\b(" + "|".join(sorted((w for w in _NUMBER_WORDS if w.isascii()), key=len, reverse=True))
               + r")\s+(?=(?:days?|weeks?|months?)\b)", lambda m: f"{_NUMBER_WORDS[m.group(1)]} ", q)
    q = re.sub(r"([一二三四五六七八九])?十([一二三四五六七八九])?(?=天|周|个月)",
               lambda m: str(10 * (_ZH_NUM[m.group(1)] if m.group(1) else 1) + (_ZH_NUM[m.group(2)] if m.group(2)
                                                                                else 0)), q)
    return re.sub(r"([一二三四五六七八九两])(?=天|周|个月|个星期)", lambda m: str(_ZH_NUM.get(m.group(1), 2)), q)


def _days(q: str) -> int | None:
    q = _digits(q)
    m = _SPAN_RE.search(q)
    if not m:
        return None
    groups = [g for g in m.groups() if g]
    n, unit = int(groups[0]), groups[1]
    if unit.startswith("week") or unit == "周":
        return n * 7
    if unit.startswith("month") or unit in ("个月", "月"):
        return n * 30
    return n


def _month_start(month: int, year: int | None, today: dt.date) -> dt.date:
    if year:
        return dt.date(year, month, 1)
    day = dt.date(today.year, month, 1)
    return day if day + relativedelta(months=1) > today else day + relativedelta(years=1)


def parse_window(question: str, today: dt.date) -> Window | None:
    """Windows reps write: "before March", "by end of January", "in Q1", "next 60 days", "2027-02-01 之前"."""
    q = _digits(" ".join(question.casefold().replace("’", "'").split()))
    month: tuple[int, int | None] | None = None
    if m := _MONTH_RE.search(q):
        if not (m.group(1) == "may" and not re.search(r"\b(?:in|before|by|until|till|through|during) may\b", q)):
            month = (MONTHS[m.group(1)], int(m.group(2)) if m.group(2) else None)
    elif m := _ZH_MONTH_RE.search(q):
        raw = m.group(2)
        month = (_ZH_NUM.get(raw) or int(raw), int(m.group(1)[:4]) if m.group(1) else None)
    iso = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", q)
    before = re.search(r"\b(?:before|until|till|prior to|ahead of)\b|之前|以前|前(?!\d)", q)
    # "end of" wins over "before": "before end of Feb" means through February, like "by the end of Feb"
    by_end = re.search(r"\bend of\b|\bby\b|\bthrough\b|\buntil the end\b|月底|月末|底前|截至|之内|以内", q)
    if by_end and re.search(r"\bend of\b|月底|月末|底前", q):
        before = None
    if iso:
        day = dt.date.fromisoformat(iso.group(1))
        if before or by_end:
            return Window(today, day - dt.timedelta(days=0 if by_end and not before else 1), f"before {day}",
                          "before_date", (("date", day.isoformat()),))
    if month:
        first = _month_start(month[0], month[1], today)
        last = first + relativedelta(months=1) - dt.timedelta(days=1)
        name = first.strftime("%B %Y")
        if before:
            return Window(today, first - dt.timedelta(days=1), f"before {name}", "before_month", (("month", first),))
        if by_end:
            return Window(today, last, f"by the end of {name}", "by_end_of_month", (("month", first),))
        return Window(max(first, today), last, f"in {name}", "in_month", (("month", first),))
    if re.search(r"this month|本月|这个月", q):
        end = dt.date(today.year, today.month, 1) + relativedelta(months=1) - dt.timedelta(days=1)
        return Window(today, end, "this month", "this_month")
    if re.search(r"next month|下个月|下月", q):
        first = dt.date(today.year, today.month, 1) + relativedelta(months=1)
        return Window(first, first + relativedelta(months=1) - dt.timedelta(days=1), "next month", "next_month")
    if m := re.search(r"\bq([1-4])\b(?:\s+(\d{4}))?|(?:第)?([一二三四])季度", q):
        quarter = int(m.group(1)) if m.group(1) else _ZH_NUM[m.group(3)]
        first = _month_start(3 * quarter - 2, int(m.group(2)) if m.group(2) else None, today)
        if first + relativedelta(months=3) <= today:
            first += relativedelta(years=1)
        return Window(max(first, today), first + relativedelta(months=3) - dt.timedelta(days=1),
                      f"in Q{quarter} {first.year}", "in_quarter",
                      (("quarter", quarter), ("year", first.year)))
    if re.search(r"this quarter|本季度", q):
        first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return Window(today, first + relativedelta(months=3) - dt.timedelta(days=1), "this quarter", "this_quarter")
    if re.search(r"next quarter|下季度|下个季度", q):
        first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) + relativedelta(months=3)
        return Window(first, first + relativedelta(months=3) - dt.timedelta(days=1), "next quarter", "next_quarter")
    if re.search(r"(?:end of|by) (?:the )?year|year[- ]end|年底|年末", q):
        return Window(today, dt.date(today.year, 12, 31), "by the end of the year", "end_of_year")
    if re.search(r"this week|本周|这周", q):
        return Window(today, today + dt.timedelta(days=6 - today.weekday()), "this week", "this_week")
    if re.search(r"next week|下周", q):
        start = today + dt.timedelta(days=7 - today.weekday())
        return Window(start, start + dt.timedelta(days=6), "next week", "next_week")
    if re.search(r"this year|今年", q):
        return Window(today, dt.date(today.year, 12, 31), "this year", "this_year")
    if re.search(r"next year|明年", q):
        return Window(dt.date(today.year + 1, 1, 1), dt.date(today.year + 1, 12, 31), "next year", "next_year")
    n = _days(q)
    if n and not re.search(r"\b(?:past|last|ago)\b|过去|以来", q):
        return Window(today, today + dt.timedelta(days=n), f"in the next {n} days", "next_days", (("n", n),))
    return None


