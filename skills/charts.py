"""PNG charts, rendered headless (matplotlib's Agg backend): the tier matrix and KPI trends per rep.

Two steps each: the data (plain dataclasses, from the store) and the picture (bytes of a PNG), so Slack, the CLI
and the tests share one renderer. Tier colours are from the Okabe-Ito palette (safe for the common colour-vision
deficiencies) and every tier also has its own marker shape; names are drawn in DejaVu Sans with a Noto Sans CJK
fallback (skills/chart_fonts.py) and placed without overlaps (skills/chart_labels.py).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from knowledge.settings import Settings
from knowledge.store import Store
from skills.chart_fonts import font_families
from skills.chart_labels import place_labels
from skills.kpis import KpiSet, compute, label

DPI = 100
MATRIX_SIZE = (11.0, 8.5)  # inches: 1100 x 850 pixels
TRENDS_SIZE = (12.0, 7.5)  # 1200 x 750 pixels
MAX_MATRIX_LABELS = 80  # beyond this, movers and the most important accounts are named, the rest are points
CROWDED = 200  # more accounts than this: smaller, translucent points; names on a light backing
TREND_WEEKS = 12
TREND_KPIS = ("cadence", "multithreading", "completeness", "freshness", "follow_through", "revenue_growth")

# Okabe-Ito: distinguishable with protanopia, deuteranopia and tritanopia, and in grey scale by the markers
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
TIER_STYLE = {  # colour, marker, title
    "key": ("#009E73", "o", "Key"),
    "strategic": ("#0072B2", "s", "Strategic"),
    "maintenance": ("#E69F00", "^", "Maintenance"),
    "opportunity": ("#CC79A7", "D", "Opportunity"),
}
LINE_STYLES = ("-", "--", "-.", ":")
REP_COLOURS = OKABE_ITO[:7]  # black is the team's line
MAX_NAMED_REPS = 8  # more reps than this: the lowest 8 are named, the others drawn in grey


def pixel_size(size: tuple[float, float]) -> tuple[int, int]:
    return round(size[0] * DPI), round(size[1] * DPI)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # headless: no display on a server
    # bold titles with the CJK fallback font (regular only) would log a findfont warning on every chart
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    _pyplot().close(fig)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ tier matrix
@dataclass
class MatrixPoint:
    account_id: str
    name: str
    tier: str | None
    importance: float
    strength: float
    previous: tuple[float, float] | None = None  # (importance, strength) at the review before
    previous_tier: str | None = None

    @property
    def moved(self) -> bool:
        return self.previous_tier is not None and self.previous_tier != self.tier


@dataclass
class MatrixData:
    points: list[MatrixPoint]
    importance_threshold: float
    strength_threshold: float
    reviewed_at: dt.datetime | None
    unscored: int = 0  # accounts without a review yet: not drawn


def tier_matrix_data(store: Store, config: Any, ids: set[str] | None = None) -> MatrixData:
    """Each account's scores at the last review, its tier in force, and where it stood at the review before if its
    tier changed at the last one (the movers)."""
    from skills.tiering.history import listing
    from skills.tiering.models import TierHistoryRow, TierReviewRow

    rows = listing(store, ids=ids)
    h, r = TierHistoryRow, TierReviewRow
    with store.session() as s:
        reviews = s.execute(select(r.id, r.at).order_by(r.id.desc()).limit(2)).all()
        movers: dict[str, tuple[str | None, float | None, float | None]] = {}
        if len(reviews) == 2:
            last_id, prev_id = reviews[0][0], reviews[1][0]
            changed = {aid: old for aid, old in s.execute(select(h.account_id, h.old_tier).where(
                h.review_id == last_id, h.old_tier.is_not(None), h.old_tier != h.new_tier))}
            if changed:
                for aid, imp, strg in s.execute(select(h.account_id, h.importance, h.strength).where(
                        h.review_id == prev_id)):
                    if aid in changed:
                        movers[aid] = (changed[aid], imp, strg)
    points, unscored = [], 0
    for row in rows:
        if row.importance is None or row.strength is None:
            unscored += 1
            continue
        p = MatrixPoint(row.id, row.account, row.tier, row.importance, row.strength)
        if row.id in movers:
            old, imp, strg = movers[row.id]
            p.previous_tier = old
            p.previous = (imp, strg) if imp is not None and strg is not None else None
        points.append(p)
    return MatrixData(points, config.importance.threshold, config.strength.threshold,
                      reviews[0][1] if reviews else None, unscored)


def render_tier_matrix(data: MatrixData, *, title: str | None = None, font_cache: Path | None = None,
                       max_labels: int = MAX_MATRIX_LABELS) -> bytes:
    """The tier matrix as PNG bytes."""
    return _png(draw_tier_matrix(data, title=title, font_cache=font_cache, max_labels=max_labels))


def draw_tier_matrix(data: MatrixData, *, title: str | None = None, font_cache: Path | None = None,
                     max_labels: int = MAX_MATRIX_LABELS) -> Any:
    """The tier matrix figure: strength across, importance up, tier regions shaded, one point per account, movers
    since the last review drawn as arrows from where they were (a hollow marker in their old tier's shape)."""
    plt = _pyplot()
    names = [p.name for p in data.points]
    with plt.rc_context({"font.family": font_families([*names, title or ""], font_cache),
                         "axes.titleweight": "bold"}):
        fig, ax = plt.subplots(figsize=MATRIX_SIZE, dpi=DPI)
        fig.subplots_adjust(left=0.07, right=0.73, top=0.92, bottom=0.09)
        ax.set_xlim(0, 1)  # before anything is drawn: the arrows' pixel positions depend on it
        ax.set_ylim(0, 1)
        ax.set_autoscale_on(False)
        ti, ts = data.importance_threshold, data.strength_threshold
        regions = {"key": (ts, ti, 1, 1), "strategic": (0, ti, ts, 1), "maintenance": (ts, 0, 1, ti),
                   "opportunity": (0, 0, ts, ti)}
        region_titles = []
        for tier, (x0, y0, x1, y1) in regions.items():
            colour, _, tier_title = TIER_STYLE[tier]
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=colour, alpha=0.13, lw=0, zorder=0))
            region_titles.append(ax.text(x0 + 0.012 if tier in ("strategic", "opportunity") else x1 - 0.012,
                    y1 - 0.015 if tier in ("key", "strategic") else y0 + 0.015, tier_title,
                    ha="left" if tier in ("strategic", "opportunity") else "right",
                    va="top" if tier in ("key", "strategic") else "bottom",
                    fontsize=13, fontweight="bold", color=colour, alpha=0.9, zorder=4))
        ax.axhline(ti, color="#555555", lw=0.8, ls="--", zorder=1)
        ax.axvline(ts, color="#555555", lw=0.8, ls="--", zorder=1)
        crowded = len(data.points) > CROWDED
        size = 46 if not crowded else max(4.0, 46 * math.sqrt(CROWDED / len(data.points)))
        for tier, (colour, marker, tier_title) in TIER_STYLE.items():
            pts = [p for p in data.points if p.tier == tier]
            ax.scatter([p.strength for p in pts], [p.importance for p in pts], s=size, c=colour, marker=marker,
                       edgecolors="white", linewidths=0.8 if not crowded else 0.2, alpha=1 if not crowded else 0.7,
                       zorder=3, label=f"{tier_title} ({len(pts)})")
        other = [p for p in data.points if p.tier not in TIER_STYLE]
        if other:
            ax.scatter([p.strength for p in other], [p.importance for p in other], s=40, c="#999999", marker="x",
                       zorder=3, label=f"Not tiered ({len(other)})")
        movers = [p for p in data.points if p.moved and p.previous is not None]
        arrows: list[tuple[float, float, float, float]] = []  # kept clear of labels, as small boxes along each arrow
        for p in movers:
            colour = TIER_STYLE.get(p.previous_tier or "", ("#999999",))[0]
            ax.scatter([p.previous[1]], [p.previous[0]], s=34, facecolors="white", edgecolors=colour, linewidths=1.2,
                       marker=TIER_STYLE.get(p.previous_tier or "", ("", "o"))[1], zorder=3)
            a, b = ax.transData.transform([(p.previous[1], p.previous[0]), (p.strength, p.importance)])
            for k in range(1, 20):
                x, y = a + (b - a) * k / 20
                arrows.append((x - 3, y - 3, x + 3, y + 3))
            ax.annotate("", xy=(p.strength, p.importance), xytext=(p.previous[1], p.previous[0]),
                        arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.2, "shrinkA": 0, "shrinkB": 5},
                        zorder=2)
        if movers:
            ax.plot([], [], color="#333333", lw=1.2, marker=">", markersize=5,
                    label=f"Moved since the last review ({len(movers)})")
        ax.set_xlabel("Our strength with the account (relationship, satisfaction, cooperation) →", fontsize=10)
        ax.set_ylabel("Importance to us (account attractiveness) →", fontsize=10)
        when = f" · review of {data.reviewed_at:%d %b %Y}" if data.reviewed_at else ""
        ax.set_title(title or f"Tier matrix · {len(data.points)} accounts{when}", fontsize=13, loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
        notes = []
        ranked = sorted(data.points, key=lambda p: (not p.moved, p.tier != "key", -p.importance))
        labelled = ranked[:max_labels]
        if len(labelled) < len(data.points):
            notes.append(f"Names shown for {len(labelled)} of {len(data.points)} accounts (movers and the most "
                         "important first).")
        if data.unscored:
            notes.append(f"{data.unscored} accounts without a tier review are not drawn.")
        if notes:
            fig.text(0.745, 0.09, "\n".join(textwrap.fill(n, 42) for n in notes), fontsize=8, color="#444444",
                     va="bottom")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for t in region_titles:  # names keep clear of the region titles too
            b = t.get_window_extent(renderer)
            arrows.append((b.x0, b.y0, b.x1, b.y1))
        placed = place_labels(ax, [p.strength for p in labelled], [p.importance for p in labelled],
                              [p.name for p in labelled], extra_obstacles=arrows,
                              marker_px=5.0 if not crowded else 1.5)
        if crowded:  # names over a carpet of points: a light backing keeps them readable
            for label_ in placed:
                label_.text.set_bbox({"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.1})
        return fig


# ------------------------------------------------------------------------------------------------ KPI trends
@dataclass
class TrendPoint:
    week_end: dt.date
    kpis: KpiSet
    reconstructed: bool  # no snapshot that week: computed from dated records (see docs/kpis.md)


@dataclass
class TrendData:
    title: str
    weeks: list[dt.date]
    series: dict[str, list[TrendPoint]]  # per rep label
    total: list[TrendPoint] = field(default_factory=list)  # the pooled team


def kpi_trend_data(store: Store, settings: Settings, *, end: dt.date, rep: str | None = None,
                   manager: str | None = None, weeks: int = TREND_WEEKS,
                   period_days: int | None = None) -> TrendData:
    """KPIs per rep for each of the last `weeks` weeks ending on `end`: the week's stored snapshot when there is one,
    else computed as of that day from the dated records."""
    from skills.kpi_snapshots import snapshots, week_ends
    from skills.kpis import scope_reps
    from skills.nudges import iso_week, load_tiers

    period = period_days or settings.kam_kpi_period_days
    days = week_ends(end, weeks)
    scope, subject, wanted = scope_reps(store, rep, manager)
    since = days[0] - dt.timedelta(days=6)
    stored = snapshots(store, "rep", wanted, since, end, period)
    # a week is covered when its snapshots were taken (they are taken for every rep at once, with the "all" row);
    # a rep missing from a covered week had no accounts then
    covered = {iso_week(s.taken_on) for s in snapshots(store, "all", None, since, end, period)}
    by_week: dict[str, dict[str, Any]] = {}
    for snap in stored:  # the latest of each week wins
        by_week.setdefault(iso_week(snap.taken_on), {})[snap.subject] = snap
    names = {p.email: p.name or p.email for p in store.people()}
    tiers = load_tiers(store)
    series: dict[str, list[TrendPoint]] = {}
    total: list[TrendPoint] = []
    for day in days:
        week = iso_week(day)
        if day != end and week in covered:
            points = {r: TrendPoint(day, snap.kpis, snap.reconstructed) for r, snap in by_week.get(week, {}).items()}
        else:  # the live week, or one without snapshots: computed as of that day
            live = compute(store, settings, end=day, period_days=period, rep=rep, manager=manager, tiers=tiers)
            points = {rk.rep: TrendPoint(day, rk.kpis, day != end) for rk in live.reps}
        pooled = KpiSet()
        for r, point in sorted(points.items()):
            if point.kpis.accounts:
                series.setdefault(names.get(r, r), []).append(point)
                pooled.add(point.kpis)
        total.append(TrendPoint(day, pooled, any(p.reconstructed for p in points.values())))
    who = {"rep": names.get(subject or "", subject), "team": f"team of {names.get(subject or '', subject)}",
           "all": "all reps"}[scope]
    return TrendData(f"KAM KPIs, {who}: last {weeks} weeks ({period}-day window)", days, series, total)


def render_kpi_trends(data: TrendData, *, font_cache: Path | None = None) -> bytes:
    """The KPI trends as PNG bytes."""
    return _png(draw_kpi_trends(data, font_cache=font_cache))


def draw_kpi_trends(data: TrendData, *, font_cache: Path | None = None) -> Any:
    """One panel per KPI, a line per rep (Okabe-Ito colours, then line styles), the pooled team in thick black;
    hollow markers for weeks computed without a snapshot."""
    plt = _pyplot()
    reps = list(data.series)
    named = _named_reps(data)
    others = [r for r in reps if r not in named]
    with plt.rc_context({"font.family": font_families([*reps, data.title], font_cache)}):
        fig, axes = plt.subplots(2, 3, figsize=TRENDS_SIZE, dpi=DPI, sharex=True)
        fig.subplots_adjust(left=0.06, right=0.78, top=0.88, bottom=0.10, hspace=0.32, wspace=0.28)
        for ax, kpi in zip(axes.flat, TREND_KPIS, strict=True):
            for i, rep in enumerate(others):  # a big team: the rest in grey, one legend entry
                _trend_line(ax, data.series[rep], kpi, "#b0b0b0", "-", 0.7, f"Other reps ({len(others)})" if i == 0
                            else "_nolegend_", markers=False)
            for i, rep in enumerate(named):
                colour = REP_COLOURS[i % len(REP_COLOURS)]
                style = LINE_STYLES[(i // len(REP_COLOURS)) % len(LINE_STYLES)]
                _trend_line(ax, data.series[rep], kpi, colour, style, 1.4, rep)
            if len(reps) > 1:
                _trend_line(ax, data.total, kpi, "#000000", "-", 2.6, "Team (pooled)")
            ax.set_title(label(kpi, short=True), fontsize=11, loc="left")
            empty = all(p.kpis.value(kpi) is None for p in data.total)
            if empty:
                ax.text(0.5, 0.5, "no data in these weeks", transform=ax.transAxes, ha="center", va="center",
                        fontsize=9, color="#777777")
            ax.set_xlim(data.weeks[0] - dt.timedelta(days=3), data.weeks[-1] + dt.timedelta(days=3))
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0f}%"))
            if kpi != "revenue_growth" or empty:
                ax.set_ylim(-3, 103)
            ax.grid(axis="y", color="#dddddd", lw=0.6)
            ax.tick_params(labelsize=8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        for ax in axes[-1]:
            ax.xaxis.set_major_formatter(_date_formatter())
            for tick in ax.get_xticklabels():
                tick.set_rotation(30)
                tick.set_ha("right")
        fig.suptitle(data.title, fontsize=13, fontweight="bold", x=0.06, ha="left")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.79, 0.88), fontsize=9, frameon=False)
        note = "Hollow markers: weeks without a\nstored snapshot, computed from\ndated records."
        if others:
            note = (f"Named: the {len(named)} reps lowest\non average in the last week;\nthe other "
                    f"{len(others)} in grey.\n\n") + note
        fig.text(0.79, 0.10, note, fontsize=8, color="#444444")
        return fig


def _named_reps(data: TrendData) -> list[str]:
    """Every rep, or for a team too big to tell apart the MAX_NAMED_REPS lowest on average over the percentage
    KPIs of the last week (the ones a manager looks for)."""
    reps = list(data.series)
    if len(reps) <= MAX_NAMED_REPS:
        return reps

    def average(rep: str) -> float:
        last = data.series[rep][-1].kpis
        values = [v for k in TREND_KPIS if k != "revenue_growth" and (v := last.value(k)) is not None]
        return sum(values) / len(values) if values else 1.0

    return sorted(sorted(reps, key=average)[:MAX_NAMED_REPS])


def _trend_line(ax: Any, points: list[TrendPoint], kpi: str, colour: str, style: str, width: float,
                name: str, markers: bool = True) -> None:
    xs, ys, hollow = [], [], []
    for p in points:
        v = p.kpis.value(kpi)
        xs.append(p.week_end)
        ys.append(float("nan") if v is None else 100 * v)
        hollow.append(p.reconstructed)
    ax.plot(xs, ys, color=colour, ls=style, lw=width, label=name, zorder=3 if markers else 2)
    if not markers:
        return
    solid = [(x, y) for x, y, h in zip(xs, ys, hollow, strict=True) if not h]
    empty = [(x, y) for x, y, h in zip(xs, ys, hollow, strict=True) if h]
    if solid:
        ax.plot(*zip(*solid, strict=True), ls="", marker="o", ms=4, color=colour, zorder=4)
    if empty:
        ax.plot(*zip(*empty, strict=True), ls="", marker="o", ms=4, mfc="white", mec=colour, zorder=4)


def _date_formatter() -> Any:
    from matplotlib.dates import DateFormatter

    return DateFormatter("%d %b")
