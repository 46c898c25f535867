"""Service levels of service cases: the targets per tier and severity (skills/cases.yaml, KAM_CASES_CONFIG) and
business-time arithmetic in a time zone (business hours and days, holidays; numpy's busday_offset behind a cache).
Plain data; skills/cases.py applies them to cases."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from knowledge.settings import DAY_NAMES, Settings

CONFIG_PATH = Path(__file__).with_name("cases.yaml")
SEVERITIES = ("low", "normal", "high")


class CaseError(ValueError):
    """Input that cannot be acted on: the message names the field (`field`); nothing was stored."""

    def __init__(self, message: str, field: str = "case"):
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------ service levels
@dataclass(frozen=True)
class Target:
    amount: float
    unit: str  # "h" business hours | "d" business days

    def label(self) -> str:
        n = f"{self.amount:g}"
        return f"{n} business hour{'s' * (self.amount != 1)}" if self.unit == "h" else \
            f"{n} business day{'s' * (self.amount != 1)}"

    def scaled(self, factor: float) -> Target:
        return Target(self.amount * factor, self.unit)


@dataclass(frozen=True)
class SlaConfig:
    start: dt.time
    end: dt.time
    weekmask: str  # numpy's "1111100"
    holidays: tuple[str, ...]
    untiered: str
    escalate_after: float
    targets: dict[str, dict[str, dict[str, Target]]]  # tier -> severity -> stage -> target

    def target(self, tier: str | None, severity: str, stage: str) -> Target:
        per_tier = self.targets.get(tier or self.untiered) or self.targets[self.untiered]
        return per_tier[severity][stage]


def parse_duration(text: Any, where: str) -> Target:
    raw = str(text).strip().lower().replace(" ", "")
    unit = raw[-1:] if raw[-1:] in ("h", "d") else ""
    try:
        amount = float(raw[:-1]) if unit else float("nan")
    except ValueError:
        amount = float("nan")
    if not unit or not amount > 0:
        raise CaseError(f"{where}: a duration like 4h (business hours) or 3d (business days), not {text!r}",
                        field=where)
    return Target(amount, unit)


def _time(text: Any, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        raise CaseError(f"{where}: a time HH:MM, not {text!r}", field=where) from None


def config_path(settings: Settings) -> Path:
    return Path(settings.kam_cases_config).expanduser() if settings.kam_cases_config else CONFIG_PATH


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> SlaConfig:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise CaseError(f"{path}: not a mapping of settings", field="config")
    hours = data.get("business_hours") or {}
    start, end = _time(hours.get("start", "09:00"), "business_hours.start"), _time(hours.get("end", "18:00"),
                                                                                  "business_hours.end")
    if end <= start:
        raise CaseError(f"{path}: business_hours.end must be after business_hours.start", field="business_hours")
    days = [str(d).strip().lower()[:3] for d in data.get("business_days") or DAY_NAMES[:5]]
    if not days or any(d not in DAY_NAMES for d in days):
        raise CaseError(f"{path}: business_days must be day names ({', '.join(DAY_NAMES)})", field="business_days")
    holidays = tuple(dt.date.fromisoformat(str(h)).isoformat() for h in data.get("holidays") or [])
    targets: dict[str, dict[str, dict[str, Target]]] = {}
    for tier, per_tier in (data.get("targets") or {}).items():
        targets[str(tier)] = {}
        for severity in SEVERITIES:
            stage = (per_tier or {}).get(severity) or {}
            targets[str(tier)][severity] = {s: parse_duration(stage.get(s), f"targets.{tier}.{severity}.{s}")
                                            for s in ("response", "resolution")}
    untiered = str(data.get("untiered") or "opportunity")
    if untiered not in targets:
        raise CaseError(f"{path}: untiered names a tier without targets: {untiered!r}", field="untiered")
    return SlaConfig(start, end, "".join("1" if d in days else "0" for d in DAY_NAMES), holidays, untiered,
                     float(data.get("escalate_after") or 2.0), targets)


def load_sla(settings: Settings) -> SlaConfig:
    path = config_path(settings)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise CaseError(f"cannot read the service levels {path}: {exc.strerror or exc}", field="config") from None
    return _load(str(path), mtime)


@functools.lru_cache(maxsize=65536)
def _busday(day: dt.date, n: int, weekmask: str, holidays: tuple[str, ...]) -> dt.date:
    """The business day `n` business days after `day` (n=0: `day` itself if a business day, else the next one)."""
    out = np.busday_offset(np.datetime64(day, "D"), n, roll="forward", weekmask=weekmask, holidays=list(holidays))
    return out.astype(dt.date)  # type: ignore[no-any-return]


def horizon(sla: SlaConfig, factor: float = 1.0) -> dt.timedelta:
    """Calendar time that certainly holds the longest target (times `factor`): a case opened longer ago than this
    before a day cannot fall due on it, nor be first overdue on it (nor escalate, with the escalation multiple)."""
    longest = factor * max(t.amount if t.unit == "d" else t.amount / 4 for per_tier in sla.targets.values()
                           for per_sev in per_tier.values() for t in per_sev.values())
    week = max(1, sla.weekmask.count("1"))
    return dt.timedelta(days=int(longest * 7 / week) + len(sla.holidays) + 14)


def is_business_day(day: dt.date, sla: SlaConfig) -> bool:
    return _busday(day, 0, sla.weekmask, sla.holidays) == day


def next_business_day(day: dt.date, sla: SlaConfig) -> dt.date:
    """The first business day strictly after `day`."""
    return _busday(day + dt.timedelta(days=1), 0, sla.weekmask, sla.holidays)


def _opening(local: dt.datetime, sla: SlaConfig) -> dt.datetime:
    """The moment business time starts counting: now if within business hours, else the next opening."""
    day = local.date()
    if is_business_day(day, sla) and local.time() < sla.end:
        return max(local, local.replace(hour=sla.start.hour, minute=sla.start.minute, second=0, microsecond=0))
    nxt = next_business_day(day, sla)
    return dt.datetime.combine(nxt, sla.start, local.tzinfo)


def add_business(start: dt.datetime, target: Target, sla: SlaConfig) -> dt.datetime:
    """`start` (aware, in the owner's zone) plus a target in business time: the deadline, in the same zone."""
    cur = _opening(start, sla)
    if target.unit == "d":
        whole = int(target.amount)
        day = _busday(cur.date(), whole, sla.weekmask, sla.holidays)
        out = dt.datetime.combine(day, cur.time(), cur.tzinfo)
        frac = target.amount - whole
        if frac:  # "1.5d": half a business day's hours more
            hours = frac * (dt.datetime.combine(day, sla.end) - dt.datetime.combine(day, sla.start)).seconds / 3600
            out = add_business(out, Target(hours, "h"), sla)
        return out
    left = dt.timedelta(hours=target.amount)
    while True:
        close = cur.replace(hour=sla.end.hour, minute=sla.end.minute, second=0, microsecond=0)
        if left <= close - cur:
            return cur + left
        left -= close - cur
        cur = dt.datetime.combine(next_business_day(cur.date(), sla), sla.start, cur.tzinfo)
