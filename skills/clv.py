"""Customer lifetime value: what an account is worth over the relationship still ahead, not one year's revenue.

Plain data in, plain data out. The parameters live in clv.yaml next to this module (or KAM_CLV_CONFIG); the
formula, step by step, is in docs/clv.md:

    years N   = clamp(years[tier] x satisfaction factor x complaints factor, min_years, max_years)
    revenue_t = revenue_(t-1) x (1 + g_t), g_1 = clamp(growth), g_t = g_(t-1) x fade, revenue_0 = base revenue
    CLV       = sum over t = 1..floor(N) of margin x revenue_t / (1 + rate)^t
                + (N - floor(N)) x margin x revenue_(floor(N)+1) / (1 + rate)^(floor(N)+1)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from knowledge.db import AccountRow, MetricsRow, YearlyRevenueRow
from knowledge.profile import Metrics
from knowledge.store import LOAD_CHUNK, Store

if TYPE_CHECKING:  # numpy only for the tiering factor: `kam accounts` and `kam show` start without it
    import numpy as np

DEFAULT_CONFIG = Path(__file__).with_name("clv.yaml")
UNTIERED = "untiered"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Growth(_Strict):
    min: float = Field(ge=-1, le=0)
    max: float = Field(ge=0, le=10)
    fade: float = Field(ge=0, le=1)


class Satisfaction(_Strict):
    neutral: float = Field(ge=1, le=5)
    slope: float = Field(ge=0, le=1)


class Complaints(_Strict):
    per_complaint: float = Field(ge=0, le=10)


class ClvConfig(_Strict):
    discount_rate: float = Field(ge=0, le=1)
    default_margin: float = Field(ge=-1, le=1)
    growth: Growth
    years: dict[str, float]
    satisfaction: Satisfaction
    complaints: Complaints
    min_years: float = Field(ge=0, le=100)
    max_years: float = Field(ge=0, le=100)

    def years_for(self, tier: str | None) -> float:
        return float(self.years.get(tier or UNTIERED, self.years.get(UNTIERED, 5.0)))


class ClvConfigError(ValueError):
    """An invalid CLV parameter file; the message names the file and the key."""


def config_path(settings: Any = None) -> Path:
    """KAM_CLV_CONFIG (the settings), else clv.yaml next to this module."""
    return Path(getattr(settings, "kam_clv_config", None) or DEFAULT_CONFIG)


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> ClvConfig:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ClvConfigError(f"{path}: cannot read the CLV parameters: {exc}") from None
    try:
        return ClvConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ClvConfigError(f"{path}: {key}: {err['msg']}") from None


def load_config(path: Path | None = None, settings: Any = None) -> ClvConfig:
    p = path or config_path(settings)
    try:
        mtime = p.stat().st_mtime
    except OSError as exc:
        raise ClvConfigError(f"{p}: cannot read the CLV parameters: {exc.strerror or exc}") from None
    return _load(str(p), mtime)


@dataclass
class YearValue:
    year: int  # 1 = the next twelve months
    revenue: float
    margin: float  # margin x revenue
    discounted: float  # margin / (1 + rate)^year, times the fraction of the year counted
    fraction: float = 1.0


@dataclass
class Clv:
    account_id: str
    account: str
    value: float | None  # None: no revenue known
    base_revenue: float | None
    revenue_source: str  # metrics | history YYYY | unknown
    margin: float
    margin_source: str  # metrics | assumed
    growth: float
    growth_source: str  # metrics | history YYYY-YYYY | none
    tier: str | None
    years: float
    tier_years: float
    satisfaction_factor: float
    complaints_factor: float
    discount_rate: float
    yearly: list[YearValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("value", "base_revenue"):
            if data[key] is not None:
                data[key] = round(data[key], 2)
        data["yearly"] = [{k: round(v, 2) if isinstance(v, float) else v for k, v in y.items()}
                          for y in data["yearly"]]
        return data

    def summary(self) -> str:
        """One line: the value and what it rests on."""
        if self.value is None:
            return "unknown: no revenue with us on record"
        return (f"{money(self.value)} over {self.years:.1f} years "
                f"({self.tier or UNTIERED}; margin {self.margin:.0%}"
                f"{' assumed' if self.margin_source == 'assumed' else ''}, growth {self.growth:+.0%}, "
                f"discounted at {self.discount_rate:.0%})")


def money(value: float) -> str:
    """12,345,678 -> "12.3M": readable in a table and a Slack line."""
    sign, v = ("-" if value < 0 else ""), abs(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= size:
            return f"{sign}{v / size:.1f}{unit}"
    return f"{sign}{v:.0f}"


def _clamp(v: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, v))


def _history_growth(history: dict[int, float], today: dt.date) -> tuple[float | None, str]:
    """Compound yearly growth between the first and the last complete year with revenue (two years at least)."""
    years = sorted(y for y, v in history.items() if y < today.year and v > 0)
    if len(years) < 2:
        return None, "none"
    first, last = years[0], years[-1]
    rate = (history[last] / history[first]) ** (1 / (last - first)) - 1
    return rate, f"history {first}-{last}"


def _base_revenue(metrics: Metrics, history: dict[int, float], today: dt.date) -> tuple[float | None, str]:
    if metrics.revenue is not None:
        return float(metrics.revenue), "metrics"
    complete = [y for y in history if y < today.year] or list(history)
    if complete:
        year = max(complete)
        return float(history[year]), f"history {year}"
    return None, "unknown"


def lifetime_value(account_id: str, account: str, m: Metrics, tier: str | None, history: dict[int, float],
                   config: ClvConfig, today: dt.date) -> Clv:
    """One account's CLV from its metrics, tier and revenue history, with every input and each year's discounted
    margin (see the module docstring)."""
    notes: list[str] = []
    revenue, revenue_source = _base_revenue(m, history, today)
    if m.profit_margin is not None:
        margin, margin_source = float(m.profit_margin), "metrics"
    else:
        margin, margin_source = config.default_margin, "assumed"
        notes.append(f"profit margin unknown: {config.default_margin:.0%} assumed")
    if m.growth is not None:
        raw_growth, growth_source = float(m.growth), "metrics"
    else:
        derived, growth_source = _history_growth(history, today)
        raw_growth = derived if derived is not None else 0.0
        if derived is None:
            notes.append("growth unknown: no growth assumed")
    growth = _clamp(raw_growth, config.growth.min, config.growth.max)
    if growth != raw_growth:
        notes.append(f"growth {raw_growth:+.0%} clamped to {growth:+.0%}")
    tier_years = config.years_for(tier)
    sc = config.satisfaction
    sat = 1.0 if m.satisfaction is None else max(0.0, 1 + sc.slope * (m.satisfaction - sc.neutral))
    comp = 1.0 if m.complaints is None else 1 / (1 + config.complaints.per_complaint * m.complaints)
    years = _clamp(tier_years * sat * comp, config.min_years, config.max_years)
    clv = Clv(account_id, account, None, revenue, revenue_source, margin, margin_source, growth,
              growth_source, tier, round(years, 4), tier_years, round(sat, 4), round(comp, 4),
              config.discount_rate, notes=notes)
    if revenue is None:
        clv.notes.append("no revenue with us on record (metrics.revenue or a CRM revenue history)")
        return clv
    total, rev, g = 0.0, revenue, growth
    whole = math.floor(years)
    for t in range(1, whole + 2):
        fraction = 1.0 if t <= whole else years - whole
        if fraction <= 1e-9:
            break
        rev = rev * (1 + g)
        g *= config.growth.fade
        cash = margin * rev
        discounted = fraction * cash / (1 + config.discount_rate) ** t
        total += discounted
        clv.yearly.append(YearValue(t, rev, cash, discounted, round(fraction, 4)))
    clv.value = total
    return clv


def clv_column(revenue: np.ndarray, margin: np.ndarray, growth: np.ndarray, satisfaction: np.ndarray,
               complaints: np.ndarray, config: ClvConfig) -> np.ndarray:
    """`lifetime_value` over whole columns (NaN = unknown), with the `untiered` relationship length: the tiering
    factor `clv`, which cannot depend on the tier it helps to decide. Unknown revenue gives NaN."""
    import numpy as np

    sc, gc = config.satisfaction, config.growth
    m = np.where(np.isnan(margin), config.default_margin, margin)
    g = np.clip(np.nan_to_num(growth, nan=0.0), gc.min, gc.max)
    sat = np.where(np.isnan(satisfaction), 1.0, np.maximum(0.0, 1 + sc.slope * (satisfaction - sc.neutral)))
    comp = np.where(np.isnan(complaints), 1.0, 1 / (1 + config.complaints.per_complaint * complaints))
    years = np.clip(config.years_for(None) * sat * comp, config.min_years, config.max_years)
    total, rev = np.zeros(revenue.shape), revenue.astype(np.float64)
    for t in range(1, int(math.ceil(float(years.max(initial=0.0)))) + 1):
        rev = rev * (1 + g)
        g = g * gc.fade
        fraction = np.clip(years - (t - 1), 0.0, 1.0)  # whole years, then the part of the last one
        total += fraction * m * rev / (1 + config.discount_rate) ** t
    return total


def revenue_histories(store: Store, ids: Iterable[str] | None = None) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    wanted = set(ids) if ids is not None else None
    q = select(YearlyRevenueRow.account_id, YearlyRevenueRow.year, YearlyRevenueRow.revenue)
    with store.session() as s:
        if wanted is not None and len(wanted) <= LOAD_CHUNK:
            q = q.where(YearlyRevenueRow.account_id.in_(list(wanted)))
        for aid, year, revenue in s.execute(q):
            if wanted is None or aid in wanted:
                out.setdefault(aid, {})[year] = revenue
    return out


def _tiers(store: Store, today: dt.date) -> dict[str, str]:
    from skills.portfolio import current_tier_map

    return current_tier_map(store, today)


def account_clv(store: Store, account_id: str, today: dt.date | None = None,
                config: ClvConfig | None = None) -> Clv:
    found = portfolio_clv(store, [account_id], today, config)
    if account_id not in found:
        raise KeyError(account_id)
    return found[account_id]


def _metrics(store: Store, ids: list[str] | None) -> dict[str, tuple[str, Metrics]]:
    """(name, metrics) per account, in one query per chunk: no whole profiles (a manager's Home lists thousands)."""
    fields = list(Metrics.model_fields)
    q = select(AccountRow.id, AccountRow.name, *[getattr(MetricsRow, f) for f in fields]).outerjoin(
        MetricsRow, MetricsRow.account_id == AccountRow.id)
    out: dict[str, tuple[str, Metrics]] = {}
    with store.session() as s:
        chunks = [None] if ids is None else [ids[i:i + LOAD_CHUNK] for i in range(0, len(ids), LOAD_CHUNK)]
        for chunk in chunks:
            for row in s.execute(q if chunk is None else q.where(AccountRow.id.in_(chunk))):
                out[row[0]] = (row[1], Metrics.model_construct(**dict(zip(fields, row[2:], strict=True))))
    return out


def portfolio_clv(store: Store, ids: Iterable[str] | None = None, today: dt.date | None = None,
                  config: ClvConfig | None = None) -> dict[str, Clv]:
    """CLV of many accounts at once (one read of metrics, tiers and revenue histories), by account id."""
    today = today or dt.date.today()
    wanted = list(ids) if ids is not None else None
    config = config or load_config(settings=store.settings)
    tiers, histories = _tiers(store, today), revenue_histories(store, wanted)
    return {aid: lifetime_value(aid, name, m, tiers.get(aid), histories.get(aid, {}), config, today)
            for aid, (name, m) in _metrics(store, wanted).items()}
