"""Derived profile quality: completeness per dimension (from the configured required fields) and freshness."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from knowledge.profile import DIMENSIONS, AccountProfile

# where fields outside the six dimensions count
_FIELD_DIMENSION = {"industry": "background", "region": "background", "contacts": "organisation"}


@dataclass
class Quality:
    completeness: dict[str, float]  # per dimension with required fields, 0..1
    overall: float
    missing: list[str] = field(default_factory=list)  # required fields still empty
    age_days: dict[str, int | None] = field(default_factory=dict)  # per dimension; None = never dated
    stale: list[str] = field(default_factory=list)  # dimensions older than the configured age (or undated)


def _filled(profile: AccountProfile, path: str) -> bool:
    head, _, rest = path.partition(".")
    if head == "contacts":
        if not rest:
            return bool(profile.contacts)
        if rest == "decision_maker":  # a decision maker or economic buyer on file
            return any(c.role in ("decision_maker", "economic_buyer") for c in profile.contacts)
        return any(c.role == rest for c in profile.contacts)
    value: object = profile
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return False
    return value not in ("", [], {})


def quality(profile: AccountProfile, required: list[str], today: dt.date, stale_days: int) -> Quality:
    per_dim: dict[str, list[bool]] = {}
    missing = []
    for path in required:
        head = path.partition(".")[0]
        dim = head if head in DIMENSIONS else _FIELD_DIMENSION.get(head, "background")
        ok = _filled(profile, path)
        per_dim.setdefault(dim, []).append(ok)
        if not ok:
            missing.append(path)
    completeness = {d: sum(v) / len(v) for d, v in per_dim.items()}
    overall = sum(sum(v) for v in per_dim.values()) / max(1, sum(len(v) for v in per_dim.values()))
    ages: dict[str, int | None] = {}
    stale = []
    for dim in DIMENSIONS:
        updated = profile.dimension(dim).updated
        ages[dim] = (today - updated).days if updated else None
        if ages[dim] is None or ages[dim] > stale_days:
            stale.append(dim)
    return Quality(completeness, overall, missing, ages, stale)
