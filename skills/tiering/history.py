"""Reviews, overrides and the tier history: the stateful side of tiering (scoring.py does the arithmetic).

Writes are bulk (one executemany per table per review) so that a review of 100,000 accounts, history included,
stays well under the time of the scoring's own data load.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update

from knowledge.db import AccountRow, utcnow
from knowledge.profile import Person
from knowledge.store import Store
from skills.tiering.changes import TierChange, fmt_value, reason_line, score_drivers
from skills.tiering.config import AXES, FACTOR_LABELS, FACTORS, METRICS, TIERS, TieringConfig
from skills.tiering.current import Override, _active_overrides, active_overrides, current_tiers  # noqa: F401
from skills.tiering.models import TierHistoryRow, TierOverrideRow, TierReviewRow, TierStateRow
from skills.tiering.scoring import (
    Placement,
    Portfolio,
    PriorState,
    Scores,
    clv_config,
    fetch_tuples,
    load_portfolio,
    place,
    portfolio_from_rows,
    portfolio_query,
    score,
)

TIER_CODE = {t: i for i, t in enumerate(TIERS)}
_CHUNK = 500  # ids per IN (...) clause


class OverrideError(ValueError):
    """An override that may not be made (wrong tier, no reason, past expiry, not a manager of the account)."""

    def __init__(self, message: str, field: str = "tier"):  # field: the input at fault (tier, reason, until)
        super().__init__(message)
        self.field = field


@dataclass
class ReviewResult:
    review_id: int | None  # None for a dry run
    at: dt.datetime
    accounts: int
    placed_first_time: int
    tiers: dict[str, int]
    changes: list[TierChange]
    expired_overrides: list[str] = field(default_factory=list)
    config: str = ""

    def to_json(self) -> dict:
        return {"review": self.review_id, "at": self.at, "accounts": self.accounts,
                "placed_first_time": self.placed_first_time, "tiers": self.tiers, "config": self.config,
                "expired_overrides": self.expired_overrides, "changes": [c.to_json() for c in self.changes]}


# ------------------------------------------------------------------------------------------------ reading
def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


_STATE = (TierStateRow.tier, TierStateRow.high_importance, TierStateRow.high_strength,
          TierStateRow.streak_importance, TierStateRow.streak_strength)


def _load(conn: Connection, today: dt.date, growth_from_history: bool,
          clv: Any = None) -> tuple[Portfolio, PriorState, np.ndarray]:
    """The portfolio and its stored state in one pass over the accounts (one query, driver tuples)."""
    q = portfolio_query().add_columns(*_STATE).outerjoin(TierStateRow, TierStateRow.account_id == AccountRow.id)
    rows = fetch_tuples(conn, q)
    portfolio = portfolio_from_rows(conn, rows, today, growth_from_history, clv)
    return (portfolio, *_state_from(rows, len(METRICS) + 1))


def _prior(conn: Connection, portfolio: Portfolio) -> tuple[PriorState, np.ndarray]:
    """The stored state aligned to a portfolio, and the stored tier codes (-1 = never placed)."""
    q = select(AccountRow.id, *_STATE).outerjoin(TierStateRow, TierStateRow.account_id == AccountRow.id) \
        .order_by(AccountRow.id)
    rows = fetch_tuples(conn, q)
    got, got_codes = _state_from(rows, 1)
    if [r[0] for r in rows] == portfolio.ids:  # the same accounts in the same order: the usual case
        return got, got_codes
    pos = portfolio.position()
    prior, codes = PriorState.empty(len(portfolio)), np.full(len(portfolio), -1, dtype=np.int8)
    for j, row in enumerate(rows):
        i = pos.get(row[0])
        if i is not None:
            for name in ("known", "high_importance", "high_strength", "streak_importance", "streak_strength"):
                getattr(prior, name)[i] = getattr(got, name)[j]
            codes[i] = got_codes[j]
    return prior, codes


def _state_from(rows: list[tuple], start: int) -> tuple[PriorState, np.ndarray]:
    """Columns `start`.. of each row are _STATE (all None for an account never placed)."""
    n = len(rows)
    prior = PriorState.empty(n)
    codes = np.full(n, -1, dtype=np.int8)
    if not n:
        return prior, codes
    tiers, hi, hs, si, ss = (list(c) for c in zip(*(r[start:start + 5] for r in rows), strict=True))
    known = np.array([t is not None for t in tiers], dtype=bool)
    if not known.any():
        return prior, codes
    prior.known = known
    prior.high_importance = np.array([bool(v) for v in hi], dtype=bool)
    prior.high_strength = np.array([bool(v) for v in hs], dtype=bool)
    prior.streak_importance = np.array([v or 0 for v in si], dtype=np.int64)
    prior.streak_strength = np.array([v or 0 for v in ss], dtype=np.int64)
    codes = np.array([TIER_CODE.get(t, -1) for t in tiers], dtype=np.int8)
    return prior, codes


def _last_review(conn: Connection) -> Any:
    r = TierReviewRow
    return conn.execute(select(r.id, r.first_history_id, r.last_history_id).order_by(r.id.desc()).limit(1)).first()


def _review_rows(conn: Connection, review_id: int | None, ids: list[str]) -> dict[str, tuple[list, list]]:
    """(raw, contributions) of these accounts at a review, decoded."""
    out: dict[str, tuple[list, list]] = {}
    if review_id is None:
        return out
    h = TierHistoryRow
    for chunk in _chunks(ids):
        q = select(h.account_id, h.raw, h.contributions).where(h.review_id == review_id, h.account_id.in_(chunk))
        for aid, raw, contrib in conn.execute(q):
            out[aid] = (orjson.loads(raw) if raw else None, orjson.loads(contrib) if contrib else None)
    return out


def _names(conn: Connection, ids: list[str]) -> dict[str, tuple[str, str]]:
    out = {}
    for chunk in _chunks(ids):
        for aid, name, owner in conn.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner)
                                             .where(AccountRow.id.in_(chunk))):
            out[aid] = (name, owner)
    return out


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


# ------------------------------------------------------------------------------------------------ review
def review(store: Store, config: TieringConfig, *, by: str | None = None, today: dt.date | None = None,
           now: dt.datetime | None = None, save: bool = True) -> ReviewResult:
    """Rescore every account, apply hysteresis, the key cap and overrides; record it all; return the changes."""
    today, now = today or dt.date.today(), now or utcnow()
    with store.engine.connect() as conn:
        portfolio, prior, prior_codes = _load(conn, today, config.growth_from_history,
                                              clv_config(store) if config.uses_clv else None)
        last = _last_review(conn)
        overrides_before = _active_overrides(conn, today, include_expired=True)
        overrides = {a: o for a, o in overrides_before.items() if o.until is None or o.until >= today}
    expired = {a: o for a, o in overrides_before.items() if a not in overrides}
    scores = score(portfolio, config)
    placement = place(scores, config, prior)

    n = len(portfolio)
    pos = portfolio.position()
    ov_before, ov_now = np.full(n, -1, dtype=np.int8), np.full(n, -1, dtype=np.int8)
    for table, target in ((overrides_before, ov_before), (overrides, ov_now)):
        for aid, ov in table.items():
            if aid in pos:
                target[pos[aid]] = TIER_CODE[ov.tier]
    old = np.where(ov_before >= 0, ov_before, prior_codes)
    new = np.where(ov_now >= 0, ov_now, placement.tier)
    changed = np.flatnonzero((old >= 0) & (old != new))

    with store.engine.connect() as conn:
        changed_ids = [portfolio.ids[i] for i in changed.tolist()]
        before = _review_rows(conn, last.id if last else None, changed_ids)
        names = _names(conn, changed_ids)
    axis_of = _axis_map(config)
    changes = [_change(i, portfolio, scores, placement, prior, config, old, new, expired, before, names, axis_of)
               for i in changed.tolist()]
    result = ReviewResult(None, now, n, int((prior_codes < 0).sum()),
                          {t: int(c) for t, c in zip(TIERS, np.bincount(new, minlength=4).tolist(), strict=True)}
                          if n else dict.fromkeys(TIERS, 0),
                          changes, sorted(expired), config.fingerprint)
    if save:
        result.review_id = _write(store, config, portfolio, scores, placement, prior, prior_codes, old, new,
                                  changes, expired, by, now)
        for c in changes:
            c.review_id = result.review_id
    return result


def _axis_map(config: TieringConfig) -> dict[str, str]:
    return {f: a for f in FACTORS if (a := config.axis_of(f))}


def _change(i: int, portfolio: Portfolio, scores: Scores, placement: Placement, prior: PriorState,
            config: TieringConfig, old: np.ndarray, new: np.ndarray, expired: dict[str, Override],
            before: dict[str, tuple[list, list]], names: dict[str, tuple[str, str]],
            axis_of: dict[str, str]) -> TierChange:
    aid = portfolio.ids[i]
    name, owner = names.get(aid, (aid, ""))
    old_t, new_t = TIERS[old[i]], TIERS[new[i]]
    imp, strg = _num(scores.importance[i]), _num(scores.strength[i])
    drivers: list[str] = []
    if aid in expired:
        cause = "override_expired"
        until = expired[aid].until
        because = f"override ({expired[aid].reason}) ended {until}; back to the scored tier"
    elif placement.capped[i] or (old_t == "strategic" and new_t == "key" and prior.high_importance[i]
                                 and prior.high_strength[i]):
        cause = "key_cap"
        because = (f"key cap of {config.key_cap} reached; lowest combined score of the key accounts"
                   if placement.capped[i] else f"back within the key cap of {config.key_cap}")
    else:
        cause = "scores"
        moved = [a for a, was, now in (("importance", prior.high_importance[i], placement.high_importance[i]),
                                       ("strength", prior.high_strength[i], placement.high_strength[i]))
                 if was != now] or list(AXES)
        up = {"importance": bool(placement.high_importance[i]), "strength": bool(placement.high_strength[i])}
        old_raw, old_contrib = before.get(aid, (None, None))
        drivers = score_drivers(moved, axis_of, _floats(portfolio.raw[i]), _floats(scores.contrib[i]),
                                old_raw, old_contrib, up)
        axis_text = ", ".join(f"{a} {'up' if up[a] else 'down'} to {_num(scores.axis(a)[i]) or 0:.2f}"
                              for a in moved)
        because = ", ".join(drivers) if drivers else axis_text
    return TierChange(aid, name, owner, old_t, new_t, cause, reason_line(name, old_t, new_t, because),
                      _round(imp), _round(strg), drivers=drivers)


def _num(v: float) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _json_rows(matrix: np.ndarray) -> list[str]:
    """Each row as a compact JSON list (NaN -> null): one orjson call for the whole matrix, then split."""
    if not len(matrix):
        return []
    text = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return ["[" + part + "]" for part in text[2:-2].split("],[")]


def _bulk_insert(conn: Connection, table: Any, columns: list[str], rows: Iterable[tuple]) -> None:
    """executemany straight to the driver: at 100,000 rows SQLAlchemy's per-row parameter processing costs more
    than the database's insert itself. Values must already be in the driver's types."""
    stmt = insert(table).values({c: bindparam(c) for c in columns}).compile(dialect=conn.dialect)
    if stmt.positional:
        order = [columns.index(name) for name in stmt.positiontup or columns]
        params: list = [tuple(row[j] for j in order) for row in rows] if order != list(range(len(columns))) \
            else list(rows)
    else:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    if params:
        conn.exec_driver_sql(str(stmt), params)


def _bind(conn: Connection, column: Any, value: Any) -> Any:
    """A constant as the driver wants it (e.g. SQLite stores datetimes as text in SQLAlchemy's format)."""
    proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return proc(value) if proc else value


def _write(store: Store, config: TieringConfig, portfolio: Portfolio, scores: Scores, placement: Placement,
           prior: PriorState, prior_codes: np.ndarray, old: np.ndarray, new: np.ndarray,
           changes: list[TierChange], expired: dict[str, Override], by: str | None, now: dt.datetime) -> int:
    n = len(portfolio)
    raw_json = _json_rows(portfolio.raw)
    contrib_json = _json_rows(np.round(scores.contrib, 5))
    imp, strg = _floats(np.round(scores.importance, 5)), _floats(np.round(scores.strength, 5))
    scored = placement.tier_names()
    new_names = [TIERS[t] for t in new.tolist()]
    old_names = [TIERS[t] if t >= 0 else None for t in old.tolist()]
    reasons = {c.account_id: c.reason for c in changes}
    ids = portfolio.ids
    with store.engine.begin() as conn:
        review_id = conn.execute(insert(TierReviewRow).values(
            at=now, by=by, config=config.fingerprint, factors=orjson.dumps(list(FACTORS)).decode(),
            accounts=n, changes=len(changes))).inserted_primary_key[0]
        for aid, ov in expired.items():  # an expiry is history too
            conn.execute(update(TierOverrideRow).where(TierOverrideRow.id == ov.id)
                         .values(cleared_at=now, cleared_by="expired"))
            conn.execute(insert(TierHistoryRow).values(
                account_id=aid, at=now, kind="override_expired", old_tier=ov.tier, new_tier=None, by=ov.by,
                reason=ov.reason, until=ov.until, review_id=review_id))
        first = (conn.execute(select(func.max(TierHistoryRow.id))).scalar() or 0) + 1
        at = _bind(conn, TierHistoryRow.__table__.c.at, now)
        _bulk_insert(conn, TierHistoryRow.__table__,
                     ["review_id", "account_id", "at", "kind", "old_tier", "new_tier", "scored_tier", "importance",
                      "strength", "raw", "contributions", "reason", "by"],
                     zip([review_id] * n, ids, [at] * n, ["review"] * n, old_names, new_names, scored, imp, strg,
                         raw_json, contrib_json, [reasons.get(a) for a in ids], [by] * n, strict=True))
        last = conn.execute(select(func.max(TierHistoryRow.id))).scalar()
        conn.execute(update(TierReviewRow).where(TierReviewRow.id == review_id)
                     .values(first_history_id=first, last_history_id=last))
        # the state: only the rows that changed (most accounts keep their sides and streaks)
        moved = np.flatnonzero(~prior.known | (prior.high_importance != placement.high_importance)
                               | (prior.high_strength != placement.high_strength)
                               | (prior.streak_importance != placement.streak_importance)
                               | (prior.streak_strength != placement.streak_strength)
                               | (prior_codes != placement.tier)).tolist()
        gone = select(AccountRow.id)
        conn.execute(delete(TierStateRow).where(TierStateRow.account_id.not_in(gone)))
        s = TierStateRow.__table__
        stale = [(ids[i],) for i in moved if prior.known[i]]
        if stale:
            conn.exec_driver_sql(str(delete(s).where(s.c.account_id == bindparam("a")).compile(dialect=conn.dialect)),
                                 stale if conn.dialect.positional else [{"a": a} for (a,) in stale])
        hi, hs = placement.high_importance, placement.high_strength
        si, ss = placement.streak_importance, placement.streak_strength
        _bulk_insert(conn, s, ["account_id", "tier", "high_importance", "high_strength", "streak_importance",
                               "streak_strength"],
                     [(ids[i], scored[i], bool(hi[i]), bool(hs[i]), int(si[i]), int(ss[i])) for i in moved])
    return int(review_id)


# ------------------------------------------------------------------------------------------------ overrides
def can_override(store: Store, person: Person | None, account_id: str) -> bool:
    """Managers (for accounts of their reports) and admins (any account)."""
    if person is None or person.role not in ("manager", "admin"):
        return False
    scope = store.visible_account_ids(person)
    return scope is None or account_id in scope


def set_override(store: Store, account_id: str, tier: str, reason: str, by: Person | None,
                 until: dt.date | None = None, today: dt.date | None = None,
                 now: dt.datetime | None = None) -> TierChange:
    """Put an account in a tier by hand (tier "auto" removes the override). Recorded in the history."""
    today, now = today or dt.date.today(), now or utcnow()
    tier = tier.strip().lower()
    if tier not in (*TIERS, "auto"):
        raise OverrideError(f"unknown tier {tier!r}; use one of {', '.join(TIERS)} (or auto to remove an override)")
    if not reason or not reason.strip():
        raise OverrideError("an override needs a reason", "reason")
    if until is not None and until < today:
        raise OverrideError(f"the last day {until} is in the past", "until")
    if by is None:
        raise OverrideError("unknown person: overrides are made by a manager or admin listed in people.yaml")
    if not can_override(store, by, account_id):
        raise OverrideError(f"{by.email} may not override {account_id}: only admins, and managers of the "
                            "account's owner, may override tiers")
    with store.engine.begin() as conn:
        row = conn.execute(select(AccountRow.name, AccountRow.owner).where(AccountRow.id == account_id)).first()
        if row is None:
            raise OverrideError(f"no account {account_id!r}")
        active = _active_overrides(conn, today)
        state = conn.execute(select(TierStateRow.tier).where(TierStateRow.account_id == account_id)).scalar()
        old = active[account_id].tier if account_id in active else state
        conn.execute(update(TierOverrideRow).where(TierOverrideRow.account_id == account_id,
                                                   TierOverrideRow.cleared_at.is_(None))
                     .values(cleared_at=now, cleared_by=by.email))
        if tier == "auto":
            new, kind = state, "override_cleared"
        else:
            conn.execute(insert(TierOverrideRow).values(account_id=account_id, tier=tier, reason=reason.strip(),
                                                        by=by.email, created_at=now, until=until))
            new, kind = tier, "override"
        text = f"override by {by.email}: {reason.strip()}" + (f" (until {until})" if until else "")
        conn.execute(insert(TierHistoryRow).values(account_id=account_id, at=now, kind=kind, old_tier=old,
                                                   new_tier=new, scored_tier=state, reason=reason.strip(),
                                                   by=by.email, until=until))
    return TierChange(account_id, row.name, row.owner, old, new or "unplaced", kind,
                      reason_line(row.name, old, new or "unplaced", text))


def confirm(store: Store, account_id: str, tier: str, by: str, now: dt.datetime | None = None) -> None:
    """A manager agreed with a change: kept in the history."""
    with store.engine.begin() as conn:
        conn.execute(insert(TierHistoryRow).values(account_id=account_id, at=now or utcnow(), kind="confirm",
                                                   old_tier=tier, new_tier=tier, by=by, reason="confirmed"))


def account_history(store: Store, account_id: str, limit: int = 20) -> list[dict]:
    h = TierHistoryRow
    q = select(h.at, h.kind, h.old_tier, h.new_tier, h.scored_tier, h.importance, h.strength, h.reason, h.by,
               h.until, h.review_id).where(h.account_id == account_id).order_by(h.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


# ------------------------------------------------------------------------------------------------ listing
@dataclass
class TierStatus:
    account: str
    id: str
    owner: str
    tier: str | None  # in force (override first)
    importance: float | None
    strength: float | None
    previous_tier: str | None  # the tier before the last change
    scored_tier: str | None
    changed_at: dt.datetime | None
    override: dict | None

    def to_json(self) -> dict:
        return asdict(self)


def listing(store: Store, today: dt.date | None = None, ids: set[str] | None = None) -> list[TierStatus]:
    today = today or dt.date.today()
    s, h = TierStateRow, TierHistoryRow
    last_change = select(h.account_id, func.max(h.id).label("mid")).where(  # served by ix_tier_history_changes
        text("old_tier <> new_tier")).group_by(h.account_id).subquery()
    with store.engine.connect() as conn:
        rows = conn.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner, s.tier)
                            .outerjoin(s, s.account_id == AccountRow.id).order_by(AccountRow.name_key)).all()
        last = _last_review(conn)
        scores: dict[str, tuple[float | None, float | None]] = {}
        if last is not None and last.first_history_id is not None:
            q = select(h.account_id, h.importance, h.strength).where(
                h.id.between(last.first_history_id, last.last_history_id), h.review_id == last.id)
            scores = {aid: (imp, strg) for aid, imp, strg in conn.execute(q)}
        changes = {r.account_id: (r.old_tier, r.at) for r in conn.execute(
            select(h.account_id, h.old_tier, h.at).join(last_change, h.id == last_change.c.mid))}
        overrides = _active_overrides(conn, today)
    out = []
    for aid, name, owner, tier in rows:
        if ids is not None and aid not in ids:
            continue
        imp, strg = scores.get(aid, (None, None))
        ov = overrides.get(aid)
        prev, at = changes.get(aid, (None, None))
        out.append(TierStatus(name, aid, owner, ov.tier if ov else tier, imp, strg, prev, tier, at,
                              ov.to_json() if ov else None))
    return out


# ------------------------------------------------------------------------------------------------ explain
@dataclass
class FactorExplanation:
    factor: str
    label: str
    axis: str
    raw: float | None
    value: str  # raw, formatted ("41%", "4/5", "unknown")
    known: bool
    normalised: float | None
    weight: float  # as configured in the file
    weight_share: float  # re-normalised over the axis's configured factors
    effective_weight: float | None  # re-normalised over the factors known for this account
    contribution: float | None
    normalisation: str
    source: str  # "metrics" | "derived from yearly revenue" | "derived from service cases" | "unknown"


@dataclass
class AxisExplanation:
    axis: str
    score: float | None
    threshold: float
    high: bool  # the side held after hysteresis
    coverage: float  # share of the axis's weight known for this account
    distance: float | None  # score - threshold
    near: bool  # within the hysteresis margin of the boundary
    note: str


@dataclass
class Explanation:
    account: str
    id: str
    owner: str
    tier: str | None  # in force now
    scored_tier: str | None  # last review's placement
    next_tier: str  # what a review today would place it in (hysteresis included, overrides excluded)
    previous_tier: str | None
    override: dict | None
    axes: list[AxisExplanation]
    factors: list[FactorExplanation]
    notes: list[str]
    history: list[dict]

    def to_json(self) -> dict:
        return asdict(self)


def _describe(config: TieringConfig, factor: str, portfolio_size: int) -> str:
    f = config.axis(config.axis_of(factor) or "importance").factors[factor]
    if f.normalise == "bands":
        pts = ", ".join(f"{fmt_value(factor, r)}->{s:g}" for r, s in f.bands or [])
        text = f"bands {pts}"
    else:
        text = f"{f.method} within the portfolio of {portfolio_size}"
    return text + (" (negative: more is worse)" if f.direction == "negative" else "")


def explain(store: Store, config: TieringConfig, account_id: str, today: dt.date | None = None) -> Explanation:
    """Each factor's raw value, normalised value, weight and contribution, and how close each boundary is."""
    return explain_many(store, config, [account_id], today)[account_id]


def explain_many(store: Store, config: TieringConfig, account_ids: list[str],
                 today: dt.date | None = None) -> dict[str, Explanation]:
    """`explain` for several accounts, scoring the portfolio once (a handover briefs dozens of accounts)."""
    today = today or dt.date.today()
    portfolio = load_portfolio(store, today, config.growth_from_history, config.uses_clv)
    pos = portfolio.position()
    for account_id in account_ids:
        if account_id not in pos:
            raise KeyError(account_id)
    scores = score(portfolio, config)
    with store.engine.connect() as conn:
        prior, codes = _prior(conn, portfolio)
        overrides = _active_overrides(conn, today)
        expired = _active_overrides(conn, today, include_expired=True)
        names = _names(conn, list(account_ids))
    placement = place(scores, config, prior)
    statuses = {s.id: s for s in listing(store, today, set(account_ids))}
    return {aid: _explain_one(store, config, aid, pos[aid], portfolio, scores, placement, codes, overrides, expired,
                              statuses.get(aid), names[aid]) for aid in account_ids}


def _explain_one(store: Store, config: TieringConfig, account_id: str, i: int, portfolio: Portfolio, scores: Scores,
                 placement: Placement, codes: np.ndarray, overrides: dict, expired: dict, status: TierStatus | None,
                 name_owner: tuple[str, str]) -> Explanation:
    notes: list[str] = []
    factors: list[FactorExplanation] = []
    for axis in AXES:
        w = config.weights(axis)
        if config.weights_normalised(axis):
            total = sum(f.weight for f in config.axis(axis).factors.values())
            notes.append(f"{axis} weights in the config sum to {total:g}, not 1: each was divided by {total:g}")
        known_share = float(scores.coverage[axis][i])
        for name, f in config.axis(axis).factors.items():
            j = FACTORS.index(name)
            raw = _num(portfolio.raw[i, j])
            known = raw is not None
            factors.append(FactorExplanation(
                name, FACTOR_LABELS[name], axis, raw, fmt_value(name, raw), known,
                _round(_num(scores.norm[i, j])), f.weight, round(w[name], 4),
                round(w[name] / known_share, 4) if known and known_share else None,
                _round(_num(scores.contrib[i, j])), _describe(config, name, len(portfolio)),
                ("derived from yearly revenue" if portfolio.growth_derived[i] and name == "growth" else
                 "derived from service cases" if name in portfolio.from_cases.get(account_id, ()) else
                 "derived: lifetime value, untiered length (docs/clv.md)" if name == "clv" else "metrics")
                if known else "unknown"))
        unknown = [FACTOR_LABELS[n] for n in config.axis(axis).factors
                   if math.isnan(portfolio.raw[i, FACTORS.index(n)])]
        if unknown and known_share > 0:
            notes.append(f"unknown {axis} factors: {', '.join(unknown)} - not counted as zero; their weight "
                         f"is shared among the known ones ({known_share:.0%} of the {axis} weight is known)")
        elif unknown:
            notes.append(f"no {axis} factor is known ({', '.join(unknown)}): the {axis} score is unknown, so the "
                         f"account keeps the side it had (new accounts start on the low side)")
    axes = []
    margin, needed = config.hysteresis.margin, config.hysteresis.consecutive_reviews
    for axis, high in (("importance", placement.high_importance[i]), ("strength", placement.high_strength[i])):
        sc = _num(scores.axis(axis)[i])
        t = config.axis(axis).threshold
        if sc is None:
            axes.append(AxisExplanation(axis, None, t, bool(high), 0.0, None, False,
                                        f"no {axis} factor known: the {'high' if high else 'low'} side is kept"))
            continue
        d = sc - t
        near = abs(d) <= margin
        if near:
            target = t - margin if high else t + margin
            note = (f"near the {axis} boundary {t:.2f} (within the margin {margin:.2f}): a change needs "
                    f"{'below' if high else 'at least'} {target:.2f}, or staying across {t:.2f} for {needed} reviews")
        else:
            note = f"{abs(d):.2f} {'above' if d >= 0 else 'below'} the {axis} boundary {t:.2f}"
        axes.append(AxisExplanation(axis, round(sc, 4), t, bool(high), round(float(scores.coverage[axis][i]), 4),
                                    round(d, 4), near, note))
    if placement.capped[i]:
        notes.append(f"scores say key, but the key cap of {config.key_cap} demotes it to strategic "
                     "(lowest combined score among the key accounts)")
    if account_id in expired and account_id not in overrides:
        ov = expired[account_id]
        notes.append(f"the override to {ov.tier} by {ov.by} ended {ov.until}; the next review records it")
    ov = overrides.get(account_id)
    if ov:
        notes.append(f"override: {ov.tier} by {ov.by} ({ov.reason})" + (f" until {ov.until}" if ov.until else ""))
    if codes[i] < 0:
        notes.append("not reviewed yet: run `kam tiers review`")
    for name in sorted(portfolio.from_cases.get(account_id, ())):  # the service loop feeds the tier
        value = fmt_value(name, _num(portfolio.raw[i, FACTORS.index(name)]))
        notes.append(f"{FACTOR_LABELS[name]} {value} comes from service cases: " + (
            "cases opened in the last 12 months (kam cases)" if name == "complaints" else
            "the mean satisfaction of cases the customer confirmed in the last 12 months, newer than the "
            "profile's own figure"))
    name, owner = name_owner
    return Explanation(name, account_id, owner, status.tier if status else None,
                       TIERS[codes[i]] if codes[i] >= 0 else None, TIERS[placement.tier[i]],
                       status.previous_tier if status else None, ov.to_json() if ov else None, axes, factors,
                       notes, account_history(store, account_id, limit=10))


# ------------------------------------------------------------------------------------------------ what-if
@dataclass
class WhatIf:
    changes: list[TierChange]
    before: dict[str, int]
    after: dict[str, int]

    def to_json(self) -> dict:
        return {"before": self.before, "after": self.after, "changes": [c.to_json() for c in self.changes]}


def what_if(store: Store, proposed: TieringConfig, current: TieringConfig,
            today: dt.date | None = None) -> WhatIf:
    """The tiers a different config would give, against the tiers in force (a fresh placement: no hysteresis,
    overrides kept). Nothing is saved."""
    today = today or dt.date.today()
    portfolio = load_portfolio(store, today, proposed.growth_from_history, proposed.uses_clv or current.uses_clv)
    old_scores, new_scores = score(portfolio, current), score(portfolio, proposed)
    fresh_old, fresh_new = place(old_scores, current), place(new_scores, proposed)
    in_force = current_tiers(store, today)
    overrides = active_overrides(store, today)
    old = [in_force.get(a) or TIERS[fresh_old.tier[i]] for i, a in enumerate(portfolio.ids)]
    new = [overrides[a].tier if a in overrides else TIERS[fresh_new.tier[i]] for i, a in enumerate(portfolio.ids)]
    changed = [i for i in range(len(old)) if old[i] != new[i]]
    with store.engine.connect() as conn:
        names = _names(conn, [portfolio.ids[i] for i in changed])
    changes = []
    for i in changed:
        aid = portfolio.ids[i]
        name, owner = names.get(aid, (aid, ""))
        parts = []
        for axis in AXES:
            a, b = _num(old_scores.axis(axis)[i]), _num(new_scores.axis(axis)[i])
            t = proposed.axis(axis).threshold
            parts.append(f"{axis} {_fmt(a)} -> {_fmt(b)} (high from {t:.2f})")
        if fresh_new.capped[i]:
            parts.append(f"key cap {proposed.key_cap}")
        changes.append(TierChange(aid, name, owner, old[i], new[i], "config", reason_line(name, old[i], new[i],
                                  ", ".join(parts)), _round(_num(new_scores.importance[i])),
                                  _round(_num(new_scores.strength[i]))))
    return WhatIf(changes, _count(old), _count(new))


def _fmt(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.2f}"


def _count(tiers: list[str]) -> dict[str, int]:
    c = Counter(tiers)
    return {t: c.get(t, 0) for t in TIERS}


__all__ = ["current_tiers", "review", "set_override", "confirm", "explain", "listing", "what_if",
           "active_overrides", "account_history", "can_override", "OverrideError", "ReviewResult"]
