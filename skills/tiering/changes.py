"""Tier changes and their one-line reasons ("Hanshan: strategic -> key: purchase share 22% -> 41%, growth +18%")."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from skills.tiering.config import FACTOR_LABELS, FACTORS

PERCENT = {"profit_margin", "purchase_share"}
SIGNED_PERCENT = {"growth"}
SCALE_1_5 = {"potential", "footprint", "tech_cooperation", "satisfaction"}


@dataclass
class TierChange:
    account_id: str
    account: str
    owner: str
    old_tier: str | None
    new_tier: str
    cause: str  # scores | key_cap | override | override_expired | config (what-if)
    reason: str  # the one line shown in posts and listings
    importance: float | None = None
    strength: float | None = None
    review_id: int | None = None
    drivers: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def fmt_value(factor: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if factor in PERCENT:
        return f"{value:.0%}"
    if factor in SIGNED_PERCENT:
        return f"{value:+.0%}"
    if factor in SCALE_1_5:
        return f"{value:g}/5"
    if factor == "complaints":
        return f"{value:.0f}"
    if factor in ("revenue", "clv"):
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(value) >= size:
                return f"{value / size:.3g}{unit}"
        return f"{value:.0f}"
    return f"{value:g}"


def driver(factor: str, new: float | None, old: float | None) -> str:
    """'purchase share 22% -> 41%' when the raw value moved, else 'purchase share 41%'."""
    label = FACTOR_LABELS[factor]
    now = fmt_value(factor, new)
    before = fmt_value(factor, old) if old is not None else None
    if before is not None and before != now:
        return f"{label} {before} -> {now}"
    return f"{label} {now}"


def _num(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def score_drivers(axes: list[str], axis_of: dict[str, str], raw: list[float | None],
                  contrib: list[float | None], old_raw: list[float | None] | None,
                  old_contrib: list[float | None] | None, up: dict[str, bool], limit: int = 2) -> list[str]:
    """The factors that moved the changed axes most, in the direction of the change.

    With a previous review: the largest contribution changes; without one: the largest (up) or smallest (down)
    contributions as they stand."""
    ranked: list[tuple[float, str]] = []
    for j, factor in enumerate(FACTORS):
        axis = axis_of.get(factor)
        c = _num(contrib[j])
        if axis not in axes or c is None:
            continue
        sign = 1.0 if up[axis] else -1.0
        if old_contrib is not None and j < len(old_contrib) and _num(old_contrib[j]) is not None:
            delta = (c - _num(old_contrib[j])) * sign  # type: ignore[operator]
            if delta > 1e-9:
                ranked.append((delta, factor))
        else:
            ranked.append((c * sign, factor))
    ranked.sort(reverse=True)
    out = []
    for _, factor in ranked[:limit]:
        j = FACTORS.index(factor)
        # a review from before a factor existed has no column for it (shorter rows)
        old = _num(old_raw[j]) if old_raw is not None and j < len(old_raw) else None
        out.append(driver(factor, _num(raw[j]), old))
    return out


def reason_line(account: str, old: str | None, new: str, because: str) -> str:
    return f"{account}: {old or 'new'} -> {new}: {because}"
