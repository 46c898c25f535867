"""Scoring and placement, vectorised over the whole portfolio with numpy (100,000 accounts in milliseconds).

Pure functions of arrays: loading the inputs (`load_portfolio`) is the only part that touches the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import aliased

from knowledge.db import AccountRow, MetricsRow, YearlyRevenueRow
from knowledge.store import Store
from skills.tiering.config import AXES, FACTORS, METRICS, TIERS, Factor, TieringConfig

KEY, STRATEGIC, MAINTENANCE, OPPORTUNITY = range(4)  # indexes into TIERS
GROWTH = FACTORS.index("growth")
CLV = FACTORS.index("clv")


@dataclass
class Portfolio:
    """Raw factor values of every account: one row per account, one column per FACTORS entry, NaN = unknown."""

    ids: list[str]
    raw: np.ndarray  # (n, len(FACTORS)) float64
    growth_derived: np.ndarray  # (n,) bool: growth computed from the yearly revenue history
    from_cases: dict[str, set[str]] = field(default_factory=dict)  # account -> factors taken from service cases

    def __len__(self) -> int:
        return len(self.ids)

    def position(self) -> dict[str, int]:
        return {aid: i for i, aid in enumerate(self.ids)}


@dataclass
class Scores:
    norm: np.ndarray  # (n, F) normalised 0..1 (after direction), NaN = unknown or not configured
    contrib: np.ndarray  # (n, F) share of the factor's axis score; NaN = unknown or not configured
    weights: dict[str, np.ndarray]  # axis -> (F,) re-normalised configured weights (0 = not on the axis)
    importance: np.ndarray  # (n,) NaN when no importance factor is known
    strength: np.ndarray
    coverage: dict[str, np.ndarray]  # axis -> (n,) share of the axis's weight that is known

    def axis(self, name: str) -> np.ndarray:
        return self.importance if name == "importance" else self.strength


@dataclass
class PriorState:
    """The held side of each axis and the streaks from the last review, aligned to a portfolio."""

    known: np.ndarray  # (n,) bool: account was placed before
    high_importance: np.ndarray
    high_strength: np.ndarray
    streak_importance: np.ndarray  # (n,) int
    streak_strength: np.ndarray

    @classmethod
    def empty(cls, n: int) -> PriorState:
        f, z = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        return cls(f, f.copy(), f.copy(), z, z.copy())


@dataclass
class Placement:
    tier: np.ndarray  # (n,) int8 index into TIERS (scored, after hysteresis and the key cap)
    high_importance: np.ndarray
    high_strength: np.ndarray
    streak_importance: np.ndarray
    streak_strength: np.ndarray
    capped: np.ndarray  # (n,) bool: key by score, demoted to strategic by the key cap

    def tier_names(self) -> list[str]:
        return [TIERS[t] for t in self.tier.tolist()]


# ------------------------------------------------------------------------------------------------ loading
def portfolio_query() -> Select:
    """Every account's id and METRICS (accounts without metrics: all None), by id."""
    cols = [getattr(MetricsRow, f) for f in METRICS]
    return select(AccountRow.id, *cols).outerjoin(MetricsRow, MetricsRow.account_id == AccountRow.id) \
        .order_by(AccountRow.id)


def load_portfolio(store: Store, today: dt.date | None = None, growth_from_history: bool = True,
                   clv: bool = False) -> Portfolio:
    """Every account's metrics in one query (accounts without metrics are all-unknown); with `clv`, the lifetime
    value column too (a config that uses it)."""
    with store.engine.connect() as conn:
        return portfolio_from_rows(conn, fetch_tuples(conn, portfolio_query()), today, growth_from_history,
                                   clv_config(store) if clv else None)


def clv_config(store: Store) -> Any:
    """The lifetime-value parameters (skills/clv.py), for a config with the `clv` factor."""
    from skills.clv import load_config

    return load_config(settings=store.settings)


def portfolio_from_rows(conn: Connection, rows: list[tuple], today: dt.date | None,
                        growth_from_history: bool, clv: Any = None) -> Portfolio:
    """Rows starting with (id, *METRICS) -> a Portfolio; growth filled in from the revenue history if asked, the
    lifetime value computed with `clv` (skills.clv.ClvConfig; else unknown)."""
    today = today or dt.date.today()
    history = _history_growth(conn, today) if growth_from_history else {}
    nm, nf = len(METRICS), len(FACTORS)
    ids = [r[0] for r in rows]
    raw = np.full((len(rows), nf), np.nan)
    raw[:, :nm] = np.array([r[1:nm + 1] for r in rows], dtype=np.float64).reshape(len(rows), nm)  # None -> nan
    raw[~np.isfinite(raw)] = np.nan  # an infinite value stored before it was refused is unknown, not the maximum
    derived = np.zeros(len(ids), dtype=bool)
    if history:
        missing = np.isnan(raw[:, GROWTH])
        for i in np.flatnonzero(missing).tolist():
            g = history.get(ids[i])
            if g is not None:
                raw[i, GROWTH], derived[i] = g, True
    from_cases = _from_cases(conn, ids, raw, today)  # before the lifetime value, which reads the loop's inputs
    if clv is not None:
        from skills.clv import clv_column

        f = {name: raw[:, FACTORS.index(name)] for name in METRICS}
        raw[:, CLV] = clv_column(f["revenue"], f["profit_margin"], f["growth"], f["satisfaction"], f["complaints"],
                                 clv)
    return Portfolio(ids, raw, derived, from_cases)


def _from_cases(conn: Connection, ids: list[str], raw: np.ndarray, today: dt.date) -> dict[str, set[str]]:
    """The service loop's complaints and confirmed satisfaction as inputs (skills/cases.py), when installed."""
    try:
        from skills.cases import apply_loop_inputs
    except ImportError:
        return {}
    return apply_loop_inputs(conn, ids, raw, today, FACTORS)


def fetch_tuples(conn: Connection, query: Select) -> list[tuple]:
    """All rows as the driver's plain tuples: at 100,000 rows SQLAlchemy's row layer doubles the fetch time.
    For whole-portfolio reads whose few parameters are our own numbers (rendered inline)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
        return cursor.fetchall()
    finally:
        cursor.close()


def _history_growth(conn, today: dt.date) -> dict[str, float]:
    """Growth = revenue of the last complete year / the year before - 1, from yearly_revenue (e.g. CRM deals)."""
    cur, prev = aliased(YearlyRevenueRow), aliased(YearlyRevenueRow)
    last = select(func.max(YearlyRevenueRow.year)).where(YearlyRevenueRow.account_id == cur.account_id,
                                                          YearlyRevenueRow.year < today.year).scalar_subquery()
    q = select(cur.account_id, cur.revenue, prev.revenue).join(
        prev, (prev.account_id == cur.account_id) & (prev.year == cur.year - 1)).where(cur.year == last,
                                                                                         prev.revenue > 0)
    return {aid: now / before - 1.0 for aid, now, before in fetch_tuples(conn, q)}


# ------------------------------------------------------------------------------------------------ scoring
def normalise(values: np.ndarray, factor: Factor) -> np.ndarray:
    """One factor's raw column to 0..1 (NaN stays NaN), higher = better after `direction`."""
    out = np.full(values.shape, np.nan)
    known = ~np.isnan(values)
    x = values[known]
    if x.size:
        if factor.normalise == "bands":
            pts = np.array(factor.bands, dtype=np.float64)
            v = np.interp(x, pts[:, 0], pts[:, 1])
        elif factor.method == "minmax":
            lo, hi = x.min(), x.max()
            v = (x - lo) / (hi - lo) if hi > lo else np.full(x.shape, 0.5)
        else:  # percentile rank within the portfolio, ties share their mid rank
            if x.size == 1:
                v = np.array([0.5])
            else:
                s = np.sort(x)
                below = np.searchsorted(s, x, "left")
                upto = np.searchsorted(s, x, "right")
                v = (below + upto - 1) / 2.0 / (x.size - 1)
        out[known] = 1.0 - v if factor.direction == "negative" else v
    return out


def score(portfolio: Portfolio, config: TieringConfig) -> Scores:
    n, nf = portfolio.raw.shape
    norm = np.full((n, nf), np.nan)
    contrib = np.full((n, nf), np.nan)
    weights, coverage, axis_scores = {}, {}, {}
    for axis in AXES:
        w = np.zeros(nf)
        for name, weight in config.weights(axis).items():
            j = FACTORS.index(name)
            w[j] = weight
            norm[:, j] = normalise(portfolio.raw[:, j], config.axis(axis).factors[name])
        on_axis = w > 0
        sub = norm[:, on_axis]
        known = ~np.isnan(sub)
        known_weight = known @ w[on_axis]  # missing metrics are unknown: their weight goes to the known ones
        with np.errstate(invalid="ignore", divide="ignore"):
            part = np.where(known, sub, 0.0) * w[on_axis] / known_weight[:, None]
        part[~known] = np.nan
        contrib[:, on_axis] = part
        axis_scores[axis] = np.where(known_weight > 0, np.nansum(np.where(known, part, 0.0), axis=1), np.nan)
        weights[axis], coverage[axis] = w, known_weight
    return Scores(norm, contrib, weights, axis_scores["importance"], axis_scores["strength"], coverage)


def _hold(score_: np.ndarray, threshold: float, config: TieringConfig, prior_high: np.ndarray,
          prior_streak: np.ndarray, placed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One axis with hysteresis: the side flips when the score crosses by the margin, or stays across long enough.
    An unknown score keeps the held side (new accounts start low)."""
    margin, needed = config.hysteresis.margin, config.hysteresis.consecutive_reviews
    known = ~np.isnan(score_)
    with np.errstate(invalid="ignore"):
        raw_high = score_ >= threshold
        decisive = np.where(prior_high, score_ < threshold - margin, score_ >= threshold + margin)
    across = known & (raw_high != prior_high)
    streak = np.where(across, prior_streak + 1, 0)
    flip = across & (decisive | (streak >= needed))
    high = np.where(flip, raw_high, prior_high)
    streak = np.where(flip, 0, streak)
    fresh = ~placed  # first placement: no history to hold on to
    high = np.where(fresh, raw_high & known, high)
    streak = np.where(fresh, 0, streak)
    return high.astype(bool), streak.astype(np.int64)


def place(scores: Scores, config: TieringConfig, prior: PriorState | None = None) -> Placement:
    n = len(scores.importance)
    prior = prior or PriorState.empty(n)
    hi, si = _hold(scores.importance, config.importance.threshold, config, prior.high_importance,
                   prior.streak_importance, prior.known)
    hs, ss = _hold(scores.strength, config.strength.threshold, config, prior.high_strength,
                   prior.streak_strength, prior.known)
    tier = np.where(hi, np.where(hs, KEY, STRATEGIC), np.where(hs, MAINTENANCE, OPPORTUNITY)).astype(np.int8)
    capped = np.zeros(n, dtype=bool)
    if config.key_cap is not None:
        keys = np.flatnonzero(tier == KEY)
        extra = keys.size - config.key_cap
        if extra > 0:
            combined = np.nan_to_num(scores.importance[keys] + scores.strength[keys], nan=-np.inf)
            order = np.lexsort((keys, combined))  # lowest combined score first; ties by position (stable)
            demoted = keys[order[:extra]]
            tier[demoted], capped[demoted] = STRATEGIC, True
    return Placement(tier, hi, hs, si, ss, capped)
